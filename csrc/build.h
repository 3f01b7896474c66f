/* build.h --- private declarations shared by the files that build BPF
   objects: build.c (flags, the build driver, its primitives and the
   small helpers below), process.c (running clang), cache.c (the object
   cache and its trust rule) and vmlinux.c (vmlinux.h and its PCH).

   Every function here raises ebpf-compile-error (gebpf_k_compile) on
   failure unless it says otherwise; memory said to be "dynwind" is
   released when the current dynwind context ends.  */
#ifndef GEBPF_BUILD_H
#define GEBPF_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include "gebpf.h"
#include "buf.h"

/* --- build.c: helpers ---------------------------------------------------- */

SCM_NORETURN void gebpf_build_no_memory (const char *subr);
/* asprintf into memory freed when the dynwind context ends.  */
char *gebpf_dw_printf (const char *subr, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* A vector of malloc'ed strings (argv, flags), NULL-terminated.  */
struct strv
{
  char **v;
  size_t n, cap;
};
void gebpf_strv_free (void *data);
void gebpf_strv_push (struct strv *s, const char *str, const char *subr);
void gebpf_strv_append (struct strv *s, const struct strv *t,
                        const char *subr);
/* A strv released when the dynwind context ends, however it ends.  */
void gebpf_dw_strv (struct strv *s);
/* The strings of S joined by spaces, in dynwind memory.  */
char *gebpf_strv_join (const struct strv *s, const char *subr);

/* Read the rest of FD, or the file PATH, into malloc'ed memory
   (NUL-terminated).  Return NULL and set errno on failure; raise
   nothing.  */
char *gebpf_slurp_fd (int fd, size_t *len);
char *gebpf_slurp (const char *path, size_t *len);

/* Hash S with its NUL into C; finish C as 64 hex digits plus NUL.  */
void gebpf_sha_str (struct gebpf_sha256 *c, const char *s);
void gebpf_digest_hex (struct gebpf_sha256 *c, char hex[65]);

/* --- process.c: running clang -------------------------------------------- */

struct run
{
  char *const *argv;
  const char *in;
  size_t in_len;
  struct buf out, err;
  int status;                   /* waitpid status */
  int spawn_err;                /* errno when the program could not start */
  bool nomem;
};

/* Prepare R for gebpf_run: its buffers are released when the current
   dynwind context ends.  */
void gebpf_run_init (struct run *r);
/* Run ARGV with IN on stdin, outside Guile mode, into R (prepared by
   gebpf_run_init; what an earlier run left there is dropped).  */
void gebpf_run (struct run *r, char *const *argv, const char *in,
                size_t in_len, const char *subr);
/* Whether the run R exited with status 0.  */
bool gebpf_run_ok (const struct run *r);

#endif
