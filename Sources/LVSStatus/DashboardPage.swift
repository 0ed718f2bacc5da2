// The live dashboard at /: one self-contained page (no external assets) that polls the API every second.

/// The dashboard page. It reads `/api/v1/status`, `/api/v1/services?limit=…`, `/api/v1/vrrp` and
/// `/api/v1/dataplane` once a second and draws services and real servers (weight, health,
/// active/inactive connections, rates with 60-second sparklines in inline SVG), VRRP roles and
/// drops. Everything it needs is in this one page: it works behind a proxy and offline.
public enum DashboardPage {
    /// How many services the page shows at once (the API pages the rest).
    public static let servicesShown = 50

    public static let html: String = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>lvsd</title>
        <style>
        :root { --bg:#f6f7f9; --fg:#1d2330; --mute:#6b7385; --line:#dde1e8; --card:#fff; --up:#1f9d55; --down:#d64545;
                --warn:#c98a00; --accent:#2f6fde; }
        * { box-sizing: border-box; }
        body { margin:0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
        header { display:flex; align-items:baseline; gap:16px; padding:12px 20px; background:#1d2330; color:#fff; }
        header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
        header .sub { color:#aab3c5; }
        #live { margin-left:auto; font-size:12px; color:#aab3c5; }
        #live.stale { color:#ff8a8a; }
        main { padding:16px 20px; display:grid; gap:16px; }
        .cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(150px, 1fr)); gap:12px; }
        .card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
        .card .k { color:var(--mute); font-size:11px; text-transform:uppercase; letter-spacing:.6px; }
        .card .v { font-size:20px; font-weight:600; margin-top:2px; font-variant-numeric: tabular-nums; }
        section { background:var(--card); border:1px solid var(--line); border-radius:6px; }
        section h2 { font-size:13px; margin:0; padding:8px 12px; border-bottom:1px solid var(--line); text-transform:uppercase;
                     letter-spacing:.6px; color:var(--mute); }
        table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; }
        th, td { text-align:left; padding:5px 12px; border-bottom:1px solid var(--line); white-space:nowrap; }
        th { color:var(--mute); font-weight:500; font-size:11px; text-transform:uppercase; }
        td.n, th.n { text-align:right; }
        tr.svc td { background:#eef2fa; font-weight:600; }
        tr.rs td:first-child { padding-left:28px; }
        .dot { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:6px; vertical-align:middle; }
        .up { background:var(--up); } .down { background:var(--down); } .unchecked { background:#aab3c5; }
        .badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:11px; font-weight:600; color:#fff; }
        .MASTER { background:var(--up); } .BACKUP { background:var(--accent); } .FAULT { background:var(--down); }
        .INIT, .STOP { background:#8a93a6; }
        svg.spark { vertical-align:middle; }
        .empty { padding:12px; color:var(--mute); }
        .two { display:grid; grid-template-columns: 1fr 1fr; gap:16px; }
        @media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
        </style>
        </head>
        <body>
        <header><h1>lvsd</h1><span class="sub" id="sub">connecting…</span><span id="live">–</span></header>
        <main>
          <div class="cards" id="cards"></div>
          <section><h2 id="svc-title">Virtual services</h2><div id="services"><div class="empty">loading…</div></div></section>
          <div class="two">
            <section><h2>VRRP</h2><div id="vrrp"><div class="empty">loading…</div></div></section>
            <section><h2>Data plane drops</h2><div id="drops"><div class="empty">loading…</div></div></section>
          </div>
        </main>
        <script>
        "use strict";
        const LIMIT = __LIMIT__, KEEP = 60;
        const hist = new Map();          // key -> array of recent values
        let lastOK = 0;
        const $ = (id) => document.getElementById(id);
        const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c]));
        function fmt(n) {
          if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
          if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
          if (n >= 1e4) return (n / 1e3).toFixed(1) + "K";
          return String(n);
        }
        function bytes(n) {
          const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
          while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
          return (i ? n.toFixed(1) : n) + " " + u[i];
        }
        function push(key, v, seen) {
          seen.add(key);
          let a = hist.get(key); if (!a) { a = []; hist.set(key, a); }
          a.push(v); if (a.length > KEEP) a.shift();
          return a;
        }
        function spark(a, color) {
          const w = 90, h = 18, max = Math.max(1, ...a);
          // Newest sample at the right edge, one step per second.
          const pts = a.map((v, i) => ((w - (a.length - 1 - i) * w / (KEEP - 1)).toFixed(1) + "," + (h - 1 - v / max * (h - 2)).toFixed(1))).join(" ");
          // A faint baseline, so a new series (one sample) reads as a chart that is filling up.
          const one = a.length === 1 ? ` ${(w - 4).toFixed(1)},${(h - 1 - a[0] / max * (h - 2)).toFixed(1)}` : "";
          return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><line x1="0" y1="${h - 0.5}" x2="${w}" y2="${h - 0.5}" stroke="#dde1e8"/>` +
            `<polyline fill="none" stroke="${color}" stroke-width="1.3" points="${pts}${one}"/></svg>`;
        }
        async function get(path) {
          const r = await fetch(path, {cache: "no-store"});
          if (!r.ok) throw new Error(path + ": " + r.status);
          return r.json();
        }
        function card(k, v) { return `<div class="card"><div class="k">${esc(k)}</div><div class="v">${v}</div></div>`; }
        function render(st, page, vrrp, dp) {
          const seen = new Set();
          $("sub").textContent = `${st.version} · pid ${st.pid} · up ${Math.floor(st.uptimeSeconds)} s`;
          const drops = st.dataPlane ? st.dataPlane.drops : 0;
          $("cards").innerHTML =
            card("Services", st.services) + card("Real servers", st.realServers) +
            card("Connections", fmt(st.connections) + ` <span style="font-size:12px;color:var(--mute)">/ ${fmt(st.connectionLimit)}</span>`) +
            card("Conn/s", fmt(st.rates.cps)) + card("In pkt/s", fmt(st.rates.inPPS)) + card("In B/s", bytes(st.rates.inBPS)) +
            card("Data plane", st.dataPlane ? esc(st.dataPlane.mode) : "stopped") + card("Drops", fmt(drops));
          $("svc-title").textContent = page.total > page.services.length
            ? `Virtual services (first ${page.services.length} of ${page.total})` : `Virtual services (${page.total})`;
          if (!page.services.length) {
            $("services").innerHTML = '<div class="empty">No virtual services. Add one with ipvsadm -A.</div>';
          } else {
            let h = '<table><tr><th>Service / real server</th><th>Forward</th><th class="n">Weight</th><th>Health</th>' +
              '<th class="n">ActiveConn</th><th class="n">InActConn</th><th class="n">CPS</th><th class="n">InPPS</th>' +
              '<th class="n">InBPS</th><th>conn/s, 60 s</th><th>in B/s, 60 s</th></tr>';
            for (const s of page.services) {
              const a = s.realServers.reduce((x, r) => x + r.activeConnections, 0);
              const i = s.realServers.reduce((x, r) => x + r.inactiveConnections, 0);
              const hc = push("s:" + s.key + ":c", s.rates.cps, seen), hb = push("s:" + s.key + ":b", s.rates.inBPS, seen);
              h += `<tr class="svc"><td>${esc(s.key)} <span style="color:var(--mute);font-weight:400">${esc(s.scheduler)}${s.persistent ? " persistent " + s.persistenceTimeout : ""}</span></td>` +
                `<td></td><td></td><td></td><td class="n">${a}</td><td class="n">${i}</td><td class="n">${fmt(s.rates.cps)}</td>` +
                `<td class="n">${fmt(s.rates.inPPS)}</td><td class="n">${bytes(s.rates.inBPS)}</td><td>${spark(hc, "#2f6fde")}</td><td>${spark(hb, "#7a4fd6")}</td></tr>`;
              for (const r of s.realServers) {
                const k = "r:" + s.key + ">" + r.address + ":" + r.port;
                const rc = push(k + ":c", r.rates.cps, seen), rb = push(k + ":b", r.rates.inBPS, seen);
                const addr = r.address.includes(":") ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
                h += `<tr class="rs"><td>→ ${esc(addr)}</td><td>${esc(r.forwarding)}</td><td class="n">${r.weight}</td>` +
                  `<td><span class="dot ${esc(r.health)}"></span>${esc(r.health)}</td><td class="n">${r.activeConnections}</td>` +
                  `<td class="n">${r.inactiveConnections}</td><td class="n">${fmt(r.rates.cps)}</td><td class="n">${fmt(r.rates.inPPS)}</td>` +
                  `<td class="n">${bytes(r.rates.inBPS)}</td><td>${spark(rc, "#2f6fde")}</td><td>${spark(rb, "#7a4fd6")}</td></tr>`;
              }
            }
            $("services").innerHTML = h + "</table>";
          }
          if (!vrrp.instances.length) {
            $("vrrp").innerHTML = '<div class="empty">No VRRP instances.</div>';
          } else {
            let h = '<table><tr><th>Instance</th><th>Interface</th><th class="n">VRID</th><th class="n">Priority</th><th>State</th><th>Virtual addresses</th></tr>';
            for (const i of vrrp.instances) {
              h += `<tr><td>${esc(i.name)}</td><td>${esc(i.interface)}</td><td class="n">${i.virtualRouterID}</td><td class="n">${i.priority}</td>` +
                `<td><span class="badge ${esc(i.state)}">${esc(i.state)}</span></td><td>${esc(i.virtualAddresses.join(", "))}</td></tr>`;
            }
            $("vrrp").innerHTML = h + "</table>";
          }
          const rows = [];
          if (dp.running) for (const w of dp.workers) for (const [reason, n] of Object.entries(w.drops)) rows.push([w.worker, w.interface, reason, n]);
          rows.sort((x, y) => y[3] - x[3]);
          $("drops").innerHTML = !dp.running ? '<div class="empty">The data plane is not running.</div>'
            : !rows.length ? '<div class="empty">No drops.</div>'
            : '<table><tr><th>Worker</th><th>Interface</th><th>Reason</th><th class="n">Packets</th></tr>' +
              rows.slice(0, 12).map((r) => `<tr><td>${r[0]}</td><td>${esc(r[1])}</td><td>${esc(r[2])}</td><td class="n">${fmt(r[3])}</td></tr>`).join("") + "</table>";
          for (const k of hist.keys()) if (!seen.has(k)) hist.delete(k);
        }
        async function tick() {
          try {
            const [st, page, vrrp, dp] = await Promise.all([get("api/v1/status"), get("api/v1/services?limit=" + LIMIT),
                                                            get("api/v1/vrrp"), get("api/v1/dataplane")]);
            render(st, page, vrrp, dp);
            lastOK = Date.now();
          } catch (e) {
            console.error(e);
          }
          const age = lastOK ? Math.round((Date.now() - lastOK) / 1000) : -1;
          $("live").textContent = age < 0 ? "no data" : age <= 2 ? "live · updated every second" : `stale for ${age} s`;
          $("live").className = age < 0 || age > 2 ? "stale" : "";
        }
        tick();
        setInterval(tick, 1000);
        </script>
        </body>
        </html>

        """#.replacingLimit()
}

extension String {
    fileprivate func replacingLimit() -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: "__LIMIT__") {
            out += rest[..<r.lowerBound]
            out += String(DashboardPage.servicesShown)
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
