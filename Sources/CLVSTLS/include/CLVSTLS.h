// A small OpenSSL client shim for SSL_GET: TLS over an already connected socket.
#ifndef CLVSTLS_H
#define CLVSTLS_H

#include <stddef.h>
#include <sys/types.h>

/// An open TLS client session (opaque).
typedef struct clvs_tls clvs_tls;

/// Runs a TLS client handshake on the connected, blocking socket `fd` (the caller sets
/// SO_RCVTIMEO / SO_SNDTIMEO for the timeout). `sni` may be NULL. Certificates are not
/// verified (keepalived's SSL_GET does not verify without an SSL block). Returns NULL on
/// failure with a message in `err`.
clvs_tls *clvs_tls_connect(int fd, const char *sni, char *err, size_t errlen);

/// Writes all of `buf`; returns 0, or -1 on error.
int clvs_tls_write(clvs_tls *t, const void *buf, size_t len);

/// Reads up to `len` bytes; returns the count, 0 at the end of the stream, -1 on error.
ssize_t clvs_tls_read(clvs_tls *t, void *buf, size_t len);

/// Shuts the session down and frees it (does not close `fd`).
void clvs_tls_free(clvs_tls *t);

#endif
