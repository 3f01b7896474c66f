/* init.c --- the one entry point of libguile-ebpf.

   Every foreign object type is registered before any procedure that could
   return one is defined (guile-ssh's issue #41 crashed on the opposite
   order).  Scheme loads this with (load-extension "libguile-ebpf"
   "gebpf_init"); C programs that embed Guile call ebpf_init ().  */
#include <config.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "gebpf.h"

/* libbpf's chatter goes into a buffer, never to stderr and never into
   Scheme (STYLE 9): loaders read it when something fails.  */
static char libbpf_log[16384];
static size_t libbpf_log_len;

static int
libbpf_print (enum libbpf_print_level level, const char *fmt, va_list ap)
{
  if (level == LIBBPF_DEBUG)
    return 0;
  if (libbpf_log_len >= sizeof libbpf_log - 256)
    libbpf_log_len = 0;
  int n = vsnprintf (libbpf_log + libbpf_log_len,
                     sizeof libbpf_log - libbpf_log_len, fmt, ap);
  if (n > 0)
    libbpf_log_len += (size_t) n < sizeof libbpf_log - libbpf_log_len
      ? (size_t) n : sizeof libbpf_log - libbpf_log_len - 1;
  return n;
}

const char *
gebpf_libbpf_log_take (void)
{
  static char out[sizeof libbpf_log];
  memcpy (out, libbpf_log, libbpf_log_len);
  out[libbpf_log_len] = 0;
  libbpf_log_len = 0;
  return out;
}

void
gebpf_init (void)
{
  static int done;
  if (done)
    return;
  done = 1;
  libbpf_set_strict_mode (LIBBPF_STRICT_ALL);
  libbpf_set_print (libbpf_print);
  gebpf_init_error ();
  gebpf_init_kernel ();          /* the kind tables others read */
  /* Foreign types first.  */
  gebpf_init_type ();
  gebpf_init_map ();
  gebpf_init_map_io ();
  gebpf_init_pin ();
  gebpf_init_features ();
  gebpf_init_build ();
  gebpf_init_program ();
  gebpf_init_object_info ();
  gebpf_init_link ();
  gebpf_init_attach ();
  gebpf_init_bpffs ();
  gebpf_init_ringbuf ();
  gebpf_init_symbols ();
  gebpf_init_stacks ();
  gebpf_init_lower ();
}
