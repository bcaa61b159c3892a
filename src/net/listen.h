/*
 * listen - listening sockets for the configured addresses. Each socket is
 * non-blocking, close-on-exec, SO_REUSEADDR, and IPv6 sockets are
 * IPv6-only so "0.0.0.0" and "::" can both be bound.
 */
#ifndef TERN_LISTEN_H
#define TERN_LISTEN_H

int listen_open(const char *host, const char *port, char *err, size_t errlen);

#endif
