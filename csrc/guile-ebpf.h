/* guile-ebpf.h --- embedding guile-ebpf in a C program.

   Call ebpf_init () from inside scm_with_guile (or after scm_init_guile):
   it loads the (ebpf) module, which loads the C extension, and makes its
   bindings available to code evaluated in the current module.

   Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.  */
#ifndef GUILE_EBPF_H
#define GUILE_EBPF_H

#ifdef __cplusplus
extern "C" {
#endif

/* Load (ebpf) into the current module.  */
void ebpf_init (void);

/* The extension's own initialiser, run by load-extension.  */
void gebpf_init (void);

#ifdef __cplusplus
}
#endif

#endif
