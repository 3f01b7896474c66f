/* buf.h --- the growable text buffer of the C core.
   Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.

   One type for every place that builds text piece by piece: command lines
   and process output (build.c), verifier log rewrites (program.c), the
   generated C (lower/emit.c).  The contents are always NUL-terminated.
   Zero-initialize it (struct buf b = { 0 }), then grow it with one of
   two allocators, never both on one buffer:
   - gebpf_buf_add: malloc'ed memory, released with gebpf_buf_free (or
     free (b.p)); returns false when memory runs out.
   - gebpf_buf_add_gc: Guile's heap, never freed by hand, so a non-local
     exit (a lowering error) cannot leak it.  */
#ifndef GEBPF_BUF_H
#define GEBPF_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf
{
  char *p;                      /* NUL-terminated contents, or NULL */
  size_t len, cap;
};

bool gebpf_buf_add (struct buf *b, const void *data, size_t n);
bool gebpf_buf_str (struct buf *b, const char *s);
void gebpf_buf_free (void *b);  /* a dynwind unwind handler as well */

void gebpf_buf_add_gc (struct buf *b, const void *data, size_t n);
void gebpf_buf_vprintf_gc (struct buf *b, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 2, 0)));

#endif
