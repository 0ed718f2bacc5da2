// C baseline for packet rewrites (compiled -O2).
