/*
 * tls - OpenSSL contexts for the server side (STARTTLS and implicit TLS)
 * built from the configured certificate/key pairs, with SNI choosing the
 * pair whose certificate names the requested host. Nothing cryptographic
 * is done here by hand: this only configures OpenSSL.
 */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct conf;

SSL_CTX *tls_server_ctx_new(const struct conf *c, int strict, char *err,
    size_t errlen);
void tls_ctx_free(SSL_CTX *ctx);
void tls_describe(const SSL *ssl, char *out, size_t cap);
const char *tls_error_text(unsigned long e, char *buf, size_t cap);

#endif
