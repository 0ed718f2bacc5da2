// OpenSSL client calls for SSL_GET, kept in C because Swift cannot import OpenSSL's macros.
#include "CLVSTLS.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clvs_tls {
    SSL *ssl;
};

static SSL_CTX *shared_ctx;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void make_ctx(void) {
    OPENSSL_init_ssl(0, NULL);
    shared_ctx = SSL_CTX_new(TLS_client_method());
    if (shared_ctx) SSL_CTX_set_verify(shared_ctx, SSL_VERIFY_NONE, NULL);
}

// OpenSSL writes with write(2): a peer that has closed would raise SIGPIPE and kill the
// process. Block it around our calls and drop any that became pending.
static void sigpipe_block(sigset_t *old) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

static void sigpipe_restore(const sigset_t *old) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&s, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void set_error(char *err, size_t errlen, const char *what) {
    unsigned long e = ERR_get_error();
    if (e) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(err, errlen, "%s: %s", what, buf);
    } else {
        snprintf(err, errlen, "%s", what);
    }
    ERR_clear_error();
}

clvs_tls *clvs_tls_connect(int fd, const char *sni, char *err, size_t errlen) {
    pthread_once(&ctx_once, make_ctx);
    if (!shared_ctx) {
        set_error(err, errlen, "SSL_CTX_new failed");
        return NULL;
    }
    SSL *ssl = SSL_new(shared_ctx);
    if (!ssl) {
        set_error(err, errlen, "SSL_new failed");
        return NULL;
    }
    if (sni && *sni) SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_fd(ssl, fd);
    sigset_t old;
    sigpipe_block(&old);
    int ok = SSL_connect(ssl);
    sigpipe_restore(&old);
    if (ok != 1) {
        set_error(err, errlen, "SSL handshake/communication error");
        SSL_free(ssl);
        return NULL;
    }
    clvs_tls *t = malloc(sizeof *t);
    if (!t) {
        SSL_free(ssl);
        return NULL;
    }
    t->ssl = ssl;
    return t;
}

int clvs_tls_write(clvs_tls *t, const void *buf, size_t len) {
    size_t done = 0;
    sigset_t old;
    sigpipe_block(&old);
    while (done < len) {
        int n = SSL_write(t->ssl, (const char *)buf + done, (int)(len - done));
        if (n <= 0) {
            sigpipe_restore(&old);
            return -1;
        }
        done += (size_t)n;
    }
    sigpipe_restore(&old);
    return 0;
}

ssize_t clvs_tls_read(clvs_tls *t, void *buf, size_t len) {
    int n = SSL_read(t->ssl, buf, (int)len);
    if (n > 0) return n;
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    // A peer that closes without close_notify (common for HTTP/1.0) ends the stream too.
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        ERR_clear_error();
        return 0;
    }
    if (e == SSL_ERROR_SSL) {
        unsigned long err = ERR_peek_error();
        ERR_clear_error();
        if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return 0;
    }
    ERR_clear_error();
    return -1;
}

void clvs_tls_free(clvs_tls *t) {
    if (!t) return;
    sigset_t old;
    sigpipe_block(&old);
    SSL_shutdown(t->ssl);
    sigpipe_restore(&old);
    SSL_free(t->ssl);
    free(t);
}
