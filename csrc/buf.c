/* buf.c --- the growable text buffer of the C core (see buf.h).
   Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libguile.h>
#include "buf.h"

/* The capacity B needs to hold N more bytes and the NUL: doubled from
   1 KiB, so appending is amortized constant time.  */
static size_t
needed (const struct buf *b, size_t n)
{
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < b->len + n + 1)
    cap *= 2;
  return cap;
}

static void
append (struct buf *b, const void *data, size_t n)
{
  memcpy (b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = 0;
}

bool
gebpf_buf_add (struct buf *b, const void *data, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = needed (b, n);
      char *p = realloc (b->p, cap);
      if (!p)
        return false;
      b->p = p;
      b->cap = cap;
    }
  append (b, data, n);
  return true;
}

bool
gebpf_buf_str (struct buf *b, const char *s)
{
  return gebpf_buf_add (b, s, strlen (s));
}

void
gebpf_buf_free (void *data)
{
  struct buf *b = data;
  free (b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

void
gebpf_buf_add_gc (struct buf *b, const void *data, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = needed (b, n);
      char *p = scm_gc_malloc_pointerless (cap, "gebpf-buf");
      if (b->len)
        memcpy (p, b->p, b->len);
      b->p = p;
      b->cap = cap;
    }
  append (b, data, n);
}

void
gebpf_buf_vprintf_gc (struct buf *b, const char *fmt, va_list ap)
{
  char *s = NULL;
  int n = vasprintf (&s, fmt, ap);
  if (n >= 0)
    {
      gebpf_buf_add_gc (b, s, n);
      free (s);
    }
}
