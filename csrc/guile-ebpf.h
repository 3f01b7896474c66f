/* guile-ebpf.h --- embedding guile-ebpf in a C program.

   In a thread in Guile mode (inside scm_with_guile, or after
   scm_init_guile), call ebpf_init (): it loads the (ebpf) module -- which
   loads the libguile-ebpf extension -- into the current module, so Scheme
   code evaluated there (scm_c_eval_string, scm_c_primitive_load) sees
   defbpf-map, bpf-attach! and the rest.  Compile with
   `pkg-config --cflags --libs guile-ebpf'.

   Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.  */
#ifndef GUILE_EBPF_H
#define GUILE_EBPF_H

#include <libguile.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Make guile-ebpf's bindings visible in the current module.  Raises a
   Guile error if the extension cannot be loaded.  */
static inline void
ebpf_init (void)
{
  scm_c_use_module ("ebpf");
}

#ifdef __cplusplus
}
#endif

#endif
