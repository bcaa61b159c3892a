/*
 * tls - server SSL_CTX construction, SNI selection and descriptions of
 * negotiated sessions for logs and Received: headers.
 *
 * One SSL_CTX is made per certificate/key pair. The first is the default;
 * the others hang off it (ex_data) and the servername callback switches
 * a connection to the pair whose certificate matches the SNI name. The
 * set lives exactly as long as the default context: OpenSSL frees it
 * (set_free) when the last reference goes. SSL objects hold references,
 * so a reload (SIGHUP) may drop the old context while connections still
 * use it.
 */
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "../conf/conf.h"
#include "../lib/log.h"

struct tls_set {
	SSL_CTX **ctx;
	size_t n;
};

static int set_index = -1;

static void
set_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct tls_set *set = ptr;

	if (set == NULL)
		return;
	for (size_t i = 1; i < set->n; i++)
		SSL_CTX_free(set->ctx[i]);
	free(set->ctx);
	free(set);
}

/* tls_error_text - OpenSSL's reason for e, or for the newest queued error */
const char *
tls_error_text(unsigned long e, char *buf, size_t cap)
{
	if (e == 0)
		e = ERR_peek_last_error();
	if (e == 0) {
		snprintf(buf, cap, "unknown TLS error");
		return buf;
	}
	ERR_error_string_n(e, buf, cap);
	return buf;
}

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	struct tls_set *set = arg;

	if (name == NULL || set == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < set->n; i++) {
		X509 *cert = SSL_CTX_get0_certificate(set->ctx[i]);

		if (cert != NULL && X509_check_host(cert, name, 0, 0, NULL) == 1) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, set->ctx[i]);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	/* no match: keep the default certificate, as most servers do */
	return SSL_TLSEXT_ERR_OK;
}

/*
 * an expired or not yet valid certificate: on a reload (strict) it is
 * refused, so the working one stays; at start-up it is used with a loud
 * warning, because refusing to start would stop all mail, and senders
 * doing opportunistic TLS still get encryption from it
 */
static int
dates_ok(SSL_CTX *ctx, const char *file, int strict, char *err,
    size_t errlen)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	const char *what = NULL;

	if (cert == NULL)
		return 1;
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
		what = "has expired";
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		what = "is not valid yet";
	if (what == NULL)
		return 1;
	if (strict) {
		snprintf(err, errlen, "tls_cert %s: the certificate %s", file,
		    what);
		return 0;
	}
	log_err("ev=tls-cert-invalid file=%s msg=\"the certificate %s; "
	    "clients that check certificates will refuse it\"", file, what);
	return 1;
}

static SSL_CTX *
one_ctx(const struct conf *c, size_t i, int strict, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];
	int minv = TLS1_2_VERSION;

	if (ctx == NULL)
		goto ssl_fail;
	if (c->tls_min_version != NULL &&
	    strcmp(c->tls_min_version, "TLSv1.3") == 0)
		minv = TLS1_3_VERSION;
	SSL_CTX_set_min_proto_version(ctx, minv);
	/* no renegotiation, no compression; the rest is OpenSSL's default */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	if (c->tls_ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, c->tls_ciphers) != 1) {
		snprintf(err, errlen, "tls_ciphers '%s': %s", c->tls_ciphers,
		    tls_error_text(0, why, sizeof(why)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert[i]) != 1) {
		snprintf(err, errlen, "tls_cert %s: %s", c->tls_cert[i],
		    tls_error_text(0, why, sizeof(why)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key[i], SSL_FILETYPE_PEM)
	    != 1) {
		snprintf(err, errlen, "tls_key %s: %s", c->tls_key[i],
		    tls_error_text(0, why, sizeof(why)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls_key %s does not match tls_cert %s",
		    c->tls_key[i], c->tls_cert[i]);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (!dates_ok(ctx, c->tls_cert[i], strict, err, errlen)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
ssl_fail:
	snprintf(err, errlen, "cannot create a TLS context: %s",
	    tls_error_text(0, why, sizeof(why)));
	return NULL;
}

/*
 * tls_server_ctx_new - the default context for the configured pairs, or
 * NULL with err set (also NULL, with err "", when no pair is configured).
 * strict (a reload) also refuses expired and not yet valid certificates.
 */
SSL_CTX *
tls_server_ctx_new(const struct conf *c, int strict, char *err, size_t errlen)
{
	struct tls_set *set;

	err[0] = '\0';
	if (c->ntls == 0)
		return NULL;
	if (set_index < 0)
		set_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    set_free);
	set = calloc(1, sizeof(*set));
	if (set == NULL || (set->ctx = calloc(c->ntls, sizeof(*set->ctx))) ==
	    NULL) {
		free(set);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < c->ntls; i++) {
		set->ctx[i] = one_ctx(c, i, strict, err, errlen);
		if (set->ctx[i] == NULL) {
			for (size_t k = 0; k < i; k++)
				SSL_CTX_free(set->ctx[k]);
			free(set->ctx);
			free(set);
			return NULL;
		}
		set->n = i + 1;
	}
	SSL_CTX_set_tlsext_servername_callback(set->ctx[0], sni_cb);
	SSL_CTX_set_tlsext_servername_arg(set->ctx[0], set);
	SSL_CTX_set_ex_data(set->ctx[0], set_index, set);
	return set->ctx[0];
}

/* tls_ctx_free - drop our reference; connections may still hold theirs */
void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* tls_describe - "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" */
void
tls_describe(const SSL *ssl, char *out, size_t cap)
{
	const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
	int alg = 0, bits = ci ? SSL_CIPHER_get_bits(ci, &alg) : 0;

	snprintf(out, cap, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), ci ? SSL_CIPHER_get_name(ci) : "none", bits,
	    alg);
}
