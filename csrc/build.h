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
#include <limits.h>
#include <sys/stat.h>
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

/* --- cache.c: the object cache and its trust rule ------------------------ */

/* A temporary file in a cache directory that is removed unless it was
   renamed into place; released when the dynwind context ends, however it
   ends.  It holds its own descriptor of the directory, so the file is
   made and renamed in the directory that was checked, wherever its path
   may lead later.  */
struct tmpfile
{
  int dirfd;
  char name[32];                /* in DIRFD; empty once renamed */
  char path[PATH_MAX];          /* for clang's -o and messages */
};

/* What gebpf_cache_check_entry finds.  */
enum entry
{ ENTRY_MISSING, ENTRY_OK, ENTRY_DAMAGED };

/* The cache directory, created 0700 if missing and refused unless it is
   ours and reached without following a link another user could have
   made; its descriptor in *FDP when FDP is not NULL.  Both are released
   with the current dynwind context.  */
char *gebpf_cache_dir (const char *subr, int *fdp);
/* The subdirectory NAME of the cache directory CFD (PATH in messages),
   made 0700 if missing; its descriptor, closed with the current dynwind
   context.  */
int gebpf_cache_subdir (int cfd, const char *name, const char *path,
                        const char *subr);
/* Open the entry NAME of DIRFD for reading if it can be trusted (a
   regular file of ours that no one else can write); else -1 with errno
   ENOENT (missing), EPERM (not trusted) or why it could not be opened.
   Raises nothing.  */
int gebpf_cache_open_entry (int dirfd, const char *name, struct stat *st);
/* A temporary file in DIRFD (DIR in messages) for a later rename, with
   its descriptor in *FD (closed if FD is NULL).  */
struct tmpfile *gebpf_cache_make_temp (int dirfd, const char *dir, int *fd,
                                       const char *subr);
/* Rename T into place as DEST in its directory.  */
void gebpf_cache_commit_temp (struct tmpfile *t, const char *dest,
                              const char *subr);
/* Write DATA to DEST in DIRFD (DIR in messages) atomically.  */
void gebpf_cache_write_atomic (int dirfd, const char *dir, const char *dest,
                               const void *data, size_t n, const char *subr);
/* Check the entry OBJ of DIRFD against its digest file SUM: trusted,
   ELF, and of the stored SHA-256.  Raises nothing.  */
enum entry gebpf_cache_check_entry (int dirfd, const char *obj,
                                    const char *sum);

/* --- vmlinux.c: vmlinux.h and its precompiled header -------------------- */

/* The SHA-256 of the running kernel's BTF, computed once per process.  */
const char *gebpf_vmlinux_digest (const char *subr);
/* The cache directory of vmlinux.h for the running kernel's BTF, with
   vmlinux.h (re)generated unless it is there whole and trusted; its
   descriptor in *FDP.  Both are released with the current dynwind
   context.  */
char *gebpf_vmlinux_dir_fd (const char *subr, int *fdp);
/* The precompiled vmlinux.h in VFD (VDIR) for CLANG (identity CLANG_ID)
   and FLAGS, made if missing; NULL when it cannot be made.
   Malloc'ed.  */
char *gebpf_vmlinux_pch (int vfd, const char *vdir, const char *clang,
                         const char *clang_id, const struct strv *flags,
                         const char *subr);
/* Whether TEXT has the line #include "vmlinux.h".  Raises nothing.  */
bool gebpf_includes_vmlinux (const char *text, size_t len);

#endif
