/* build.c --- clang, and the content-addressed cache of BPF objects.

   This is the one place guile-ebpf runs clang.  C text (generated from a
   bpf-fn, or a hand-written .bpf.c) is piped to clang's stdin with fixed
   flags; the object lands in the cache directory under the SHA-256 of
   everything that decides its bytes:

     KEY = sha256 (C text, NUL, clang's identity, NUL, the flags,
                   NUL, guile-ebpf's BPF headers, NUL, the libbpf version
                   [, NUL, the vmlinux BTF digest when the C includes
                   "vmlinux.h"] [, NUL, headers beside a .bpf.c file])

   clang's identity is the file that runs (path, device, inode, size,
   mtime): a changed clang changes every key, and a cold start runs clang
   only to build.

   An entry is KEY.o plus KEY.sha256 (the digest of the object's bytes);
   both are written to a temporary file in the cache directory and renamed
   into place, so processes building the same text at once all end with a
   whole entry.  An entry is checked (ELF magic, size, digest) before it
   is used and rebuilt if damaged.  -fdebug-compilation-dir=. keeps the
   working directory out of DWARF, so one text always gives one object.

   guile-ebpf runs as root and loads what the cache holds, so the cache
   trusts only what the effective user wrote: the directory is opened
   component by component without following links another user could
   have made, must be ours and is made 0700 through its descriptor, and
   an entry counts only if it is a regular file of ours that no one else
   can write (else it is rebuilt); files are created O_EXCL|O_NOFOLLOW
   in the opened directory and renamed into place there.

   CO-RE programs include "vmlinux.h", generated once per kernel BTF into
   the cache (vmlinux-DIGEST/) and precompiled with the clang and flags of
   the build: a cold CO-RE build then parses no kernel headers at all.

   The environment (EBPF_CLANG, XDG_CACHE_HOME, HOME,
   GUILE_EBPF_BPF_INCLUDE) is read at every call, so it may change while
   a process runs; what is remembered per process is the digest of the
   running kernel's BTF.

   Everything raised here is an ebpf-compile-error.  */
#define _GNU_SOURCE
#include <config.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "buf.h"

extern char **environ;

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"
#define MAX_LOG (4u << 20)      /* clang's stderr kept, at most */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Counters of this process, for (bpf-build-stats).  */
static unsigned long n_hits, n_misses, n_damaged;

#define COUNT(var) __atomic_fetch_add (&(var), 1, __ATOMIC_RELAXED)
#define READ(var) __atomic_load_n (&(var), __ATOMIC_RELAXED)

/* ------------------------------------------------------------------ */
/* Memory that is released when a throw unwinds the current dynwind.   */

SCM_NORETURN static void
no_memory (const char *subr)
{
  gebpf_error (gebpf_k_compile, subr, ENOMEM, "free some memory and retry",
               "out of memory while building a BPF object");
}

/* asprintf into memory freed when the dynwind context ends.  */
static char *
dw_printf (const char *subr, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
static char *
dw_printf (const char *subr, const char *fmt, ...)
{
  char *s;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (r < 0)
    no_memory (subr);
  scm_dynwind_free (s);
  return s;
}

/* A vector of malloc'ed strings (argv, flags).  */
struct strv
{
  char **v;
  size_t n, cap;
};

static void
strv_free (void *data)
{
  struct strv *s = data;
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

static void
strv_push (struct strv *s, const char *str, const char *subr)
{
  if (s->n + 2 > s->cap)
    {
      size_t cap = s->cap ? 2 * s->cap : 32;
      char **v = realloc (s->v, cap * sizeof *v);
      if (!v)
        no_memory (subr);
      s->v = v;
      s->cap = cap;
    }
  if (!(s->v[s->n] = strdup (str)))
    no_memory (subr);
  s->v[++s->n] = NULL;
}

static void
strv_append (struct strv *s, const struct strv *t, const char *subr)
{
  for (size_t i = 0; i < t->n; i++)
    strv_push (s, t->v[i], subr);
}

/* A strv released when the dynwind context ends, however it ends.  */
static void
dw_strv (struct strv *s)
{
  memset (s, 0, sizeof *s);
  scm_dynwind_unwind_handler (strv_free, s, SCM_F_WIND_EXPLICITLY);
}

static char *
strv_join (const struct strv *s, const char *subr)
{
  struct buf b = { 0 };
  for (size_t i = 0; i < s->n; i++)
    if ((i && !gebpf_buf_add (&b, " ", 1)) || !gebpf_buf_str (&b, s->v[i]))
      {
        free (b.p);
        no_memory (subr);
      }
  if (!b.p && !gebpf_buf_add (&b, "", 0))
    no_memory (subr);
  scm_dynwind_free (b.p);
  return b.p;
}

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

static void
tmp_unlink (struct tmpfile *t)
{
  if (t->name[0])
    unlinkat (t->dirfd, t->name, 0);
  t->name[0] = 0;
}

static void
tmp_release (void *data)
{
  struct tmpfile *t = data;
  tmp_unlink (t);
  if (t->dirfd >= 0)
    close (t->dirfd);
  free (t);
}

/* ------------------------------------------------------------------ */
/* Digests.                                                            */

static void
digest_hex (struct gebpf_sha256 *c, char hex[65])
{
  static const char digits[] = "0123456789abcdef";
  uint8_t d[32];
  gebpf_sha256_final (c, d);
  for (int i = 0; i < 32; i++)
    {
      hex[2 * i] = digits[d[i] >> 4];
      hex[2 * i + 1] = digits[d[i] & 15];
    }
  hex[64] = 0;
}

static void
sha_str (struct gebpf_sha256 *c, const char *s)
{
  gebpf_sha256_update (c, s, strlen (s) + 1);   /* with its NUL */
}

/* Read the rest of FD into malloc'ed memory (NUL-terminated).  Returns
   NULL and sets errno on failure.  FD stays open.  */
static char *
slurp_fd (int fd, size_t *len)
{
  struct buf b = { 0 };
  char chunk[65536];
  for (;;)
    {
      ssize_t r = read (fd, chunk, sizeof chunk);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 || (r > 0 && !gebpf_buf_add (&b, chunk, r)))
        {
          int e = r < 0 ? errno : ENOMEM;
          free (b.p);
          errno = e;
          return NULL;
        }
      if (r == 0)
        break;
    }
  if (!b.p && !gebpf_buf_add (&b, "", 0))
    {
      errno = ENOMEM;
      return NULL;
    }
  *len = b.len;
  return b.p;
}

/* Read a whole file into malloc'ed memory (NUL-terminated).  Returns NULL
   and sets errno on failure.  */
static char *
slurp (const char *path, size_t *len)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *out = slurp_fd (fd, len);
  int e = errno;
  close (fd);
  errno = e;
  return out;
}

static int
by_name (const struct dirent **a, const struct dirent **b)
{
  return strcmp ((*a)->d_name, (*b)->d_name);
}

static int
is_header (const struct dirent *d)
{
  size_t n = strlen (d->d_name);
  return n > 2 && strcmp (d->d_name + n - 2, ".h") == 0;
}

/* Hash the name and contents of every *.h file directly in DIR, in name
   order, into C: headers a build may include without the key seeing
   their text.  A missing directory hashes as empty.  */
static void
sha_headers (struct gebpf_sha256 *c, const char *dir)
{
  struct dirent **names;
  int n = scandir (dir, &names, is_header, by_name);
  sha_str (c, dir);
  for (int i = 0; i < n; i++)
    {
      char *path = NULL, *text;
      size_t len;
      if (asprintf (&path, "%s/%s", dir, names[i]->d_name) >= 0
          && (text = slurp (path, &len)))
        {
          sha_str (c, names[i]->d_name);
          gebpf_sha256_update (c, text, len);
          free (text);
        }
      free (path);
      free (names[i]);
    }
  if (n >= 0)
    free (names);
}

/* ------------------------------------------------------------------ */
/* Running clang: no shell, stdin fed from memory, stdout and stderr    */
/* read in full.  Runs outside Guile mode, so it raises nothing.       */

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

static void
drain (int *fd, struct buf *b, struct run *r)
{
  char chunk[16384];
  ssize_t n = read (*fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    {
      close (*fd);
      *fd = -1;
      return;
    }
  if (b->len < MAX_LOG && !gebpf_buf_add (b, chunk, n))
    r->nomem = true;
}

static void *
run_process (void *data)
{
  struct run *r = data;
  int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
  r->status = -1;
  r->spawn_err = 0;
  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (out, O_CLOEXEC) < 0
      || pipe2 (err, O_CLOEXEC) < 0)
    {
      r->spawn_err = errno;
      goto done;
    }

  posix_spawn_file_actions_t fa;
  pid_t pid;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, in[0], 0);
  posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
  int rc = posix_spawnp (&pid, r->argv[0], &fa, NULL, r->argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (in[0]);
  close (out[1]);
  close (err[1]);
  in[0] = out[1] = err[1] = -1;
  if (rc)
    {
      r->spawn_err = rc;
      goto done;
    }

  /* clang may exit without reading all its input: a write then fails
     with EPIPE, and the SIGPIPE that comes with it must not kill Guile.  */
  sigset_t pipe_set, old, pending;
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
  sigpending (&pending);
  bool pipe_was_pending = sigismember (&pending, SIGPIPE);
  bool got_epipe = false;

  size_t off = 0;
  fcntl (in[1], F_SETFL, O_NONBLOCK);
  if (r->in_len == 0)
    {
      close (in[1]);
      in[1] = -1;
    }
  while (in[1] >= 0 || out[0] >= 0 || err[0] >= 0)
    {
      struct pollfd p[3];
      int *fds[3];
      nfds_t n = 0;
      if (in[1] >= 0)
        p[n] = (struct pollfd) { in[1], POLLOUT, 0 }, fds[n++] = &in[1];
      if (out[0] >= 0)
        p[n] = (struct pollfd) { out[0], POLLIN, 0 }, fds[n++] = &out[0];
      if (err[0] >= 0)
        p[n] = (struct pollfd) { err[0], POLLIN, 0 }, fds[n++] = &err[0];
      if (poll (p, n, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      for (nfds_t i = 0; i < n; i++)
        {
          if (!p[i].revents)
            continue;
          if (fds[i] == &in[1])
            {
              ssize_t w = write (in[1], r->in + off, r->in_len - off);
              if (w > 0)
                off += w;
              else if (w < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
              else if (w < 0 && errno == EPIPE)
                got_epipe = true;
              if (w <= 0 || off == r->in_len)
                {
                  close (in[1]);
                  in[1] = -1;
                }
            }
          else
            drain (fds[i], fds[i] == &out[0] ? &r->out : &r->err, r);
        }
    }
  if (got_epipe && !pipe_was_pending)
    {
      struct timespec zero = { 0, 0 };
      sigtimedwait (&pipe_set, NULL, &zero);
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  while (waitpid (pid, &r->status, 0) < 0 && errno == EINTR)
    ;

done:
  for (int i = 0; i < 2; i++)
    {
      if (in[i] >= 0)
        close (in[i]);
      if (out[i] >= 0)
        close (out[i]);
      if (err[i] >= 0)
        close (err[i]);
    }
  return NULL;
}

/* Prepare R for run: its buffers are released when the current dynwind
   context ends.  */
static void
run_init (struct run *r)
{
  memset (r, 0, sizeof *r);
  scm_dynwind_unwind_handler (gebpf_buf_free, &r->out, SCM_F_WIND_EXPLICITLY);
  scm_dynwind_unwind_handler (gebpf_buf_free, &r->err, SCM_F_WIND_EXPLICITLY);
}

/* Run ARGV with IN on stdin, outside Guile mode, into R (prepared by
   run_init; what an earlier run left there is dropped).  */
static void
run (struct run *r, char *const *argv, const char *in, size_t in_len,
     const char *subr)
{
  gebpf_buf_free (&r->out);
  gebpf_buf_free (&r->err);
  r->argv = argv;
  r->in = in;
  r->in_len = in_len;
  r->nomem = false;
  scm_without_guile (run_process, r);
  if (r->nomem)
    no_memory (subr);
  if (r->spawn_err == ENOENT || r->spawn_err == EACCES
      || r->spawn_err == ENOEXEC)
    gebpf_error (gebpf_k_compile, subr, r->spawn_err,
                 "install clang (apt-get install clang llvm), or set "
                 "EBPF_CLANG to the path of a clang that targets BPF",
                 "cannot run clang `%s'", argv[0]);
  if (r->spawn_err)
    gebpf_error (gebpf_k_compile, subr, r->spawn_err,
                 "check the system's process and file limits, then retry",
                 "cannot start clang `%s'", argv[0]);
}

static bool
run_ok (const struct run *r)
{
  return WIFEXITED (r->status) && WEXITSTATUS (r->status) == 0;
}

/* ------------------------------------------------------------------ */
/* Compile errors carry clang's diagnostics and the C that was built.   */

/* Text that is valid UTF-8 (invalid bytes become '?'), in GC memory.  */
static char *
utf8_text (const char *s, size_t n)
{
  SCM str = scm_from_stringn (s, n, "UTF-8", SCM_FAILED_CONVERSION_QUESTION_MARK);
  char *u = scm_to_utf8_string (str);
  char *g = scm_gc_strdup (u, "gebpf-build");
  free (u);
  return g;
}

/* The first line of clang's diagnostics that reports an error.  */
static char *
first_error (const char *log)
{
  const char *line = NULL;
  for (const char *p = log; *p; p = strchrnul (p, '\n'), p += !!*p)
    {
      const char *end = strchrnul (p, '\n');
      const char *e = memmem (p, end - p, "error:", 6);
      if (e)
        {
          line = p;
          break;
        }
      if (!line && end > p)
        line = p;
    }
  if (!line)
    return scm_gc_strdup ("clang printed no diagnostics", "gebpf-build");
  size_t n = strchrnul (line, '\n') - line;
  if (n > 400)
    n = 400;
  char *out = scm_gc_malloc_pointerless (n + 1, "gebpf-build");
  memcpy (out, line, n);
  out[n] = 0;
  return out;
}

#define LIBC_FIX "a BPF program runs in the kernel, without a C library: " \
  "include no C library (glibc) header such as <stdio.h> or <stdlib.h>; use " \
  "<linux/...> headers, <bpf/bpf_helpers.h> and <bpf/bpf_endian.h>, or " \
  "\"vmlinux.h\" (bpf_printk instead of printf)"

/* Raise the ebpf-compile-error for a failed run R of clang on C_TEXT:
   the message names WHAT and clang's first error line; the details hold
   clang's whole stderr ('log), the C ('c-source) and clang ('clang).  */
SCM_NORETURN static void
compile_error (const struct run *r, const char *clang, const char *what,
               const char *c_text, size_t c_len, const char *subr)
{
  const char *log = utf8_text (r->err.p ? r->err.p : "", r->err.len);
  SCM details =
    scm_list_3 (scm_cons (scm_from_utf8_symbol ("log"),
                          scm_from_utf8_string (log)),
                scm_cons (scm_from_utf8_symbol ("c-source"),
                          scm_from_stringn (c_text, c_len, "UTF-8",
                                            SCM_FAILED_CONVERSION_QUESTION_MARK)),
                scm_cons (scm_from_utf8_symbol ("clang"),
                          scm_from_locale_string (clang)));
  const char *fix = "correct the code at the place clang names (its full "
    "diagnostics are under 'log in the error's details, the C under "
    "'c-source)";
  /* glibc's <gnu/stubs.h> wants the 32-bit stubs when it sees no host
     architecture: a C library header reached a BPF build.  */
  if (strstr (log, "gnu/stubs-32.h"))
    fix = LIBC_FIX;
  if (WIFSIGNALED (r->status))
    gebpf_error_details (gebpf_k_compile, subr, details, fix,
                         "clang was killed by signal %d while building %s%s%s",
                         WTERMSIG (r->status), what, *log ? ": " : "",
                         *log ? first_error (log) : "");
  gebpf_error_details (gebpf_k_compile, subr, details, fix,
                       "clang failed to build %s: %s", what,
                       first_error (log));
}

/* ------------------------------------------------------------------ */
/* clang, its identity and its flags.                                  */

static const char *
clang_path (void)
{
  const char *c = getenv ("EBPF_CLANG");
  return c && *c ? c : GEBPF_DEFAULT_CLANG;
}

/* What stands for CLANG in cache keys: the file it names (found in PATH
   as posix_spawnp finds it) with that file's device, inode, size and
   modification time, through links.  A changed clang binary changes
   every key, and a cold start runs clang only to build (its --version
   costs ~20 ms).  Raises what run () would raise when there is no such
   clang.  In memory freed with the current dynwind context.  */
static const char *
clang_identity (const char *clang, const char *subr)
{
  const char *path = NULL;
  struct stat st;
  if (strchr (clang, '/'))
    {
      if (stat (clang, &st) == 0)
        path = clang;
    }
  else
    {
      const char *dirs = getenv ("PATH");
      if (!dirs)
        dirs = "/bin:/usr/bin";   /* what execvp searches without PATH */
      for (const char *p = dirs;; p++)
        {
          const char *end = strchrnul (p, ':');
          char *f = end > p ? dw_printf (subr, "%.*s/%s", (int) (end - p), p,
                                         clang)
            : dw_printf (subr, "./%s", clang);
          if (stat (f, &st) == 0 && S_ISREG (st.st_mode)
              && access (f, X_OK) == 0)
            {
              path = f;
              break;
            }
          if (!*end)
            break;
          p = end;
        }
    }
  if (!path)
    gebpf_error (gebpf_k_compile, subr, ENOENT,
                 "install clang (apt-get install clang llvm), or set "
                 "EBPF_CLANG to the path of a clang that targets BPF",
                 "cannot run clang `%s'", clang);
  return dw_printf (subr, "%s|%llu|%llu|%llu|%lld.%09ld", path,
                    (unsigned long long) st.st_dev,
                    (unsigned long long) st.st_ino,
                    (unsigned long long) st.st_size,
                    (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* The Debian multiarch directory of the host, where <asm/types.h> and
   friends live for the kernel UAPI headers that BPF code includes.  */
static const char *
multiarch (void)
{
#if defined __x86_64__ && defined __ILP32__
  return "x86_64-linux-gnux32";
#elif defined __x86_64__
  return "x86_64-linux-gnu";
#elif defined __i386__
  return "i386-linux-gnu";
#elif defined __aarch64__
  return "aarch64-linux-gnu";
#elif defined __arm__ && defined __ARM_PCS_VFP
  return "arm-linux-gnueabihf";
#elif defined __arm__
  return "arm-linux-gnueabi";
#elif defined __powerpc64__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "powerpc64le-linux-gnu";
#elif defined __s390x__
  return "s390x-linux-gnu";
#elif defined __riscv && __riscv_xlen == 64
  return "riscv64-linux-gnu";
#elif defined __mips__ && defined __LP64__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "mips64el-linux-gnuabi64";
#elif defined __loongarch64
  return "loongarch64-linux-gnu";
#else
  return NULL;
#endif
}

/* The host's architecture macro, defined in builds of C sources: the
   kernel's UAPI headers pull in a few C library headers (<linux/if.h>
   includes <sys/socket.h>), and glibc picks its word size, and whether
   it wants the 32-bit stubs, from this macro.  The BPF target is 64-bit
   little-endian like these hosts, so their view is the right one.  */
static const char *
host_arch_macro (void)
{
#if defined __x86_64__
  return "-D__x86_64__";
#elif defined __aarch64__
  return "-D__aarch64__";
#else
  return NULL;
#endif
}

/* Headers of the compiler itself (clang's resource directory) that BPF
   code may include; any other header that is not the kernel's, libbpf's
   or vmlinux.h belongs to the C library.  */
static bool
bpf_header_ok (const char *h, size_t n)
{
  static const char *const dirs[] = { "linux/", "asm/", "asm-generic/",
                                      "bpf/", "uapi/" };
  static const char *const compiler[] = {
    "stddef.h", "stdint.h", "stdbool.h", "stdarg.h", "limits.h", "float.h",
    "stdalign.h", "stdatomic.h", "stdnoreturn.h", "iso646.h", "vmlinux.h",
  };
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
    if (n >= strlen (dirs[i]) && strncmp (h, dirs[i], strlen (dirs[i])) == 0)
      return true;
  for (size_t i = 0; i < sizeof compiler / sizeof *compiler; i++)
    if (n == strlen (compiler[i]) && strncmp (h, compiler[i], n) == 0)
      return true;
  return false;
}

/* Refuse a C source (WHAT, its text C_TEXT) that includes a C library
   header itself (#include <stdio.h>): clang's own error would be about
   a missing glibc stub, far from the cause.  A header reached through
   the kernel's headers is accepted (see host_arch_macro).  */
static void
refuse_libc_includes (const char *c_text, size_t len, const char *what,
                      const char *subr)
{
  const char *p = c_text, *end = c_text + len;
  /* The text starts with a #line directive naming the file's line 1.  */
  int line = strncmp (c_text, "#line ", 6) == 0 ? 0 : 1;
  while (p < end)
    {
      const char *eol = memchr (p, '\n', end - p);
      if (!eol)
        eol = end;
      const char *q = p;
      while (q < eol && (*q == ' ' || *q == '\t'))
        q++;
      if (q < eol && *q == '#')
        {
          q++;
          while (q < eol && (*q == ' ' || *q == '\t'))
            q++;
          if (eol - q > 7 && strncmp (q, "include", 7) == 0)
            {
              q += 7;
              while (q < eol && (*q == ' ' || *q == '\t'))
                q++;
              const char *close = q < eol && *q == '<'
                ? memchr (q, '>', eol - q) : NULL;
              if (close && !bpf_header_ok (q + 1, close - q - 1))
                gebpf_error (gebpf_k_compile, subr, 0, LIBC_FIX,
                             "%s:%d includes <%.*s>, a C library header",
                             what, line, (int) (close - q - 1), q + 1);
            }
        }
      line++;
      p = eol + 1;
    }
}

/* The __TARGET_ARCH_ value bpf_tracing.h wants for the host.  */
static const char *
target_arch (void)
{
#if defined __x86_64__ || defined __i386__
  return "x86";
#elif defined __aarch64__
  return "arm64";
#elif defined __arm__
  return "arm";
#elif defined __powerpc__
  return "powerpc";
#elif defined __s390__
  return "s390";
#elif defined __riscv
  return "riscv";
#elif defined __mips__
  return "mips";
#elif defined __loongarch__
  return "loongarch";
#else
  return NULL;
#endif
}

static const char *
bpf_include_dir (void)
{
  const char *d = getenv ("GUILE_EBPF_BPF_INCLUDE");
  return d && *d ? d : GEBPF_BPF_INCLUDE_DIR;
}

/* The fixed flags of every build (in a dynwind-managed strv).  */
static void
base_flags (struct strv *f, const char *subr)
{
  static const char *const fixed[] = {
    "-g", "-O2", "-target", "bpf", "-mcpu=v3",
  };
  static const char *const warnings[] = {
    "-Wno-unused-value", "-Wno-compare-distinct-pointer-types",
    "-Wno-gnu-statement-expression",
    /* DWARF would otherwise record the working directory, and one text
       would give different objects in different directories.  */
    "-fdebug-compilation-dir=.",
  };
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
    strv_push (f, fixed[i], subr);
  if (target_arch ())
    strv_push (f, dw_printf (subr, "-D__TARGET_ARCH_%s", target_arch ()),
               subr);
  strv_push (f, dw_printf (subr, "-I%s", bpf_include_dir ()), subr);
  if (multiarch ())
    {
      char *dir = dw_printf (subr, "/usr/include/%s", multiarch ());
      if (access (dir, F_OK) == 0)
        strv_push (f, dw_printf (subr, "-I%s", dir), subr);
    }
  for (size_t i = 0; i < sizeof warnings / sizeof *warnings; i++)
    strv_push (f, warnings[i], subr);
}

/* ------------------------------------------------------------------ */
/* The cache directory.                                                */

/* Root loads what the cache holds into the kernel, so the cache trusts
   only what the effective user could have written: a directory reached
   without a link another user could have made, owned by us, mode 0700,
   checked and fixed through its descriptor (never through its path,
   which could be redirected between the check and the use), and entries
   that are regular files of ours that no one else can write.  */

static void
close_fd (void *data)
{
  close ((int) (intptr_t) data);
}

/* FD, closed when the current dynwind context ends, however it ends.  */
static int
dw_fd (int fd)
{
  scm_dynwind_unwind_handler (close_fd, (void *) (intptr_t) fd,
                              SCM_F_WIND_EXPLICITLY);
  return fd;
}

static void
close_fd_at (void *data)
{
  int *fd = data;
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Whether only root or we can change the entries of the directory ST (in
   a sticky one such as /tmp, no one else can rename or remove ours).  */
static bool
dir_safe (const struct stat *st)
{
  return (st->st_uid == 0 || st->st_uid == geteuid ())
    && (!(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX));
}

/* Whether a link LST in the directory PST was made by root or by us:
   the directory is safe and writable by no one else, or the link is
   root's or ours in a sticky one.  */
static bool
link_safe (const struct stat *pst, const struct stat *lst)
{
  return dir_safe (pst)
    && (!(pst->st_mode & (S_IWGRP | S_IWOTH))
        || lst->st_uid == 0 || lst->st_uid == geteuid ());
}

/* Check that the opened directory FD (PATH in messages) is ours, and make
   it mode 0700 through FD.  */
static void
own_dir (int fd, const char *path, const char *subr)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "check the directory, or point XDG_CACHE_HOME elsewhere",
                 "cannot use the object cache %s", path);
  if (st.st_uid != geteuid ())
    gebpf_error (gebpf_k_compile, subr, 0,
                 "remove it (objects there could have been planted by its "
                 "owner), or point XDG_CACHE_HOME at a directory of your own",
                 "the object cache %s belongs to uid %ld, not to this "
                 "process's uid %ld", path, (long) st.st_uid,
                 (long) geteuid ());
  if ((st.st_mode & 07777) != 0700 && fchmod (fd, 0700) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "chmod 700 the directory",
                 "the object cache %s is open to other users", path);
}

/* Open the directory DIR (absolute), creating what is missing with mode
   0700, without following a path another user could redirect: each
   component is opened with openat from /, a symbolic link is followed
   only if link_safe, every directory above the last must be dir_safe,
   and the last component is never a link.  Returns its descriptor,
   closed with the current dynwind context.  */
static int
open_dir_nofollow (const char *dir, const char *subr)
{
  static const char fix_path[] =
    "point XDG_CACHE_HOME at a directory whose path only root and you "
    "can change";
  scm_dynwind_begin (0);
  char *copy = dw_printf (subr, "%s", dir);
  int fd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  scm_dynwind_unwind_handler (close_fd_at, &fd, SCM_F_WIND_EXPLICITLY);
  struct stat pst, st;
  if (fd < 0 || fstat (fd, &pst) < 0)
    gebpf_error (gebpf_k_compile, subr, errno, fix_path,
                 "cannot open / on the way to the object cache %s", dir);
  char *save = NULL;
  for (char *name = strtok_r (copy, "/", &save), *next; name; name = next)
    {
      next = strtok_r (NULL, "/", &save);
      bool last = !next;
      /* The path up to and including NAME, for messages.  */
      char *here = dw_printf (subr, "%.*s",
                              (int) (name - copy + strlen (name)), dir);
      if (strcmp (name, ".") == 0 && !last)
        continue;
      if (strcmp (name, "..") == 0 || strcmp (name, ".") == 0)
        gebpf_error (gebpf_k_compile, subr, 0,
                     "give XDG_CACHE_HOME (or HOME) without . or .. "
                     "components",
                     "the path of the object cache %s has a `%s' component",
                     dir, name);
      int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
      int nfd = openat (fd, name, flags);
      if (nfd < 0 && errno == ENOENT)
        {
          if (mkdirat (fd, name, 0700) < 0 && errno != EEXIST)
            gebpf_error (gebpf_k_compile, subr, errno,
                         "make the directory writable, or point "
                         "XDG_CACHE_HOME elsewhere",
                         "cannot create the object cache %s", dir);
          nfd = openat (fd, name, flags);
        }
      if (nfd < 0 && (errno == ELOOP || errno == ENOTDIR))
        {
          struct stat lst;
          if (fstatat (fd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0
              || !S_ISLNK (lst.st_mode))
            gebpf_error (gebpf_k_compile, subr, ENOTDIR,
                         "remove it, or point XDG_CACHE_HOME elsewhere",
                         "%s, on the path of the object cache %s, is not "
                         "a directory", here, dir);
          if (last)
            gebpf_error (gebpf_k_compile, subr, ELOOP,
                         "point XDG_CACHE_HOME at a real directory (a link "
                         "there could be pointed anywhere)",
                         "the object cache %s is a symbolic link; it is "
                         "not followed", dir);
          if (!link_safe (&pst, &lst))
            gebpf_error (gebpf_k_compile, subr, 0, fix_path,
                         "the path of the object cache %s goes through "
                         "the symbolic link %s, which uid %ld could have "
                         "made", dir, here,
                         (long) (lst.st_uid != 0 && lst.st_uid != geteuid ()
                                 ? lst.st_uid : pst.st_uid));
          nfd = openat (fd, name, flags & ~O_NOFOLLOW);
        }
      if (nfd < 0)
        gebpf_error (gebpf_k_compile, subr, errno,
                     "check the directory, or point XDG_CACHE_HOME "
                     "elsewhere", "cannot open the object cache %s (at %s)",
                     dir, here);
      close (fd);
      fd = nfd;
      if (fstat (fd, &st) < 0)
        gebpf_error (gebpf_k_compile, subr, errno, fix_path,
                     "cannot use the object cache %s (at %s)", dir, here);
      if (!last && !dir_safe (&st))
        {
          char who[64];
          if (st.st_uid != 0 && st.st_uid != geteuid ())
            snprintf (who, sizeof who, "uid %ld", (long) st.st_uid);
          else
            snprintf (who, sizeof who, "any %s",
                      st.st_mode & S_IWOTH ? "user" : "member of its group");
          gebpf_error (gebpf_k_compile, subr, 0, fix_path,
                       "the object cache %s lies under %s, which %s can "
                       "change (and so swap the cache's entries)",
                       dir, here, who);
        }
      pst = st;
    }
  int out = fd;
  fd = -1;
  scm_dynwind_end ();
  return dw_fd (out);
}

/* The cache directory, created 0700 if missing and refused unless it is
   ours and reached safely (open_dir_nofollow); its descriptor in *FDP
   when FDP is not NULL.  Both are released with the current dynwind
   context.  */
static char *
cache_dir (const char *subr, int *fdp)
{
  const char *xdg = getenv ("XDG_CACHE_HOME");
  char *dir;
  /* The XDG spec says a relative XDG_CACHE_HOME is to be ignored.  */
  if (xdg && xdg[0] == '/')
    dir = dw_printf (subr, "%s/guile-ebpf", xdg);
  else
    {
      const char *home = getenv ("HOME");
      if (!home || home[0] != '/')
        {
          struct passwd *pw = getpwuid (geteuid ());
          home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
        }
      if (!home)
        gebpf_error (gebpf_k_compile, subr, 0,
                     "set XDG_CACHE_HOME (or HOME) to an absolute directory",
                     "no directory for guile-ebpf's object cache: neither "
                     "XDG_CACHE_HOME nor HOME is set");
      dir = dw_printf (subr, "%s/.cache/guile-ebpf", home);
    }
  int fd = open_dir_nofollow (dir, subr);
  own_dir (fd, dir, subr);
  if (fdp)
    *fdp = fd;
  return dir;
}

/* The subdirectory NAME of the cache directory CFD (PATH in messages),
   made 0700 if missing.  Anything else of that name that is not a
   directory is replaced.  Returns its descriptor, closed with the
   current dynwind context.  */
static int
cache_subdir (int cfd, const char *name, const char *path, const char *subr)
{
  int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 3; tries++)
    {
      if (mkdirat (cfd, name, 0700) < 0 && errno != EEXIST)
        break;
      fd = openat (cfd, name, flags);
      if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
        unlinkat (cfd, name, 0);
      else if (fd < 0)
        break;
    }
  if (fd < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "make the object cache writable, or point XDG_CACHE_HOME "
                 "elsewhere", "cannot create %s", path);
  dw_fd (fd);
  own_dir (fd, path, subr);
  return fd;
}

/* Open the entry NAME of the cache directory DIRFD for reading if it can
   be trusted: a regular file (a link is not followed), ours, that no one
   else can write.  Returns its descriptor and status in *ST, or -1 with
   errno ENOENT when there is no such entry, EPERM when it is not
   trusted, or why it could not be opened.  */
static int
open_entry (int dirfd, const char *name, struct stat *st)
{
  /* O_NONBLOCK: a planted FIFO must not hang the open.  */
  int fd = openat (dirfd, name,
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ELOOP)
        errno = EPERM;
      return -1;
    }
  if (fstat (fd, st) < 0 || !S_ISREG (st->st_mode)
      || st->st_uid != geteuid () || (st->st_mode & (S_IWGRP | S_IWOTH)))
    {
      close (fd);
      errno = EPERM;
      return -1;
    }
  return fd;
}

/* Make a temporary file in the directory DIRFD (DIR in messages) for a
   later rename, and return it with its descriptor in *FD (closed if FD is
   NULL).  Created with O_EXCL|O_NOFOLLOW: nothing there is reused.  */
static struct tmpfile *
make_temp (int dirfd, const char *dir, int *fd, const char *subr)
{
  static unsigned long counter;
  struct tmpfile *t = malloc (sizeof *t);
  if (!t)
    no_memory (subr);
  t->name[0] = 0;
  t->dirfd = -1;
  scm_dynwind_unwind_handler (tmp_release, t, SCM_F_WIND_EXPLICITLY);
  if ((t->dirfd = fcntl (dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "close some files, or raise the limit of open files",
                 "cannot use the object cache %s", dir);
  for (int tries = 0;; tries++)
    {
      uint64_t r;
      if (getrandom (&r, sizeof r, GRND_NONBLOCK) != (ssize_t) sizeof r)
        r = ((uint64_t) getpid () << 32)
          ^ (uint64_t) time (NULL)
          ^ __atomic_fetch_add (&counter, 1, __ATOMIC_RELAXED);
      char name[sizeof t->name];
      snprintf (name, sizeof name, ".tmp-%012llx",
                (unsigned long long) (r & 0xffffffffffffull));
      if ((size_t) snprintf (t->path, sizeof t->path, "%s/%s", dir, name)
          >= sizeof t->path)
        gebpf_error (gebpf_k_compile, subr, ENAMETOOLONG,
                     "point XDG_CACHE_HOME at a shorter path",
                     "the object cache path %s is too long", dir);
      int f = openat (t->dirfd, name,
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
      if (f >= 0)
        {
          memcpy (t->name, name, sizeof name);
          if (fd)
            *fd = f;
          else
            close (f);
          return t;
        }
      if (errno != EEXIST || tries >= 100)
        gebpf_error (gebpf_k_compile, subr, errno,
                     "make the object cache writable, or point "
                     "XDG_CACHE_HOME elsewhere",
                     "cannot create a file in %s", dir);
    }
}

/* Rename T into place as DEST in its directory.  */
static void
commit_temp (struct tmpfile *t, const char *dest, const char *subr)
{
  if (renameat (t->dirfd, t->name, t->dirfd, dest) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "make the object cache writable, or point XDG_CACHE_HOME "
                 "elsewhere", "cannot write %.*s%s",
                 (int) (strlen (t->path) - strlen (t->name)), t->path, dest);
  t->name[0] = 0;
}

/* Write DATA to DEST in the directory DIRFD (DIR in messages)
   atomically: a temporary file, then a rename.  */
static void
write_atomic (int dirfd, const char *dir, const char *dest, const void *data,
              size_t n, const char *subr)
{
  int fd;
  struct tmpfile *t = make_temp (dirfd, dir, &fd, subr);
  const char *p = data;
  while (n)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        {
          int e = errno;
          close (fd);
          gebpf_error (gebpf_k_compile, subr, e,
                       "free space in the object cache's file system",
                       "cannot write %s/%s", dir, dest);
        }
      p += w;
      n -= w;
    }
  if (close (fd) < 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "free space in the object cache's file system",
                 "cannot write %s/%s", dir, dest);
  commit_temp (t, dest, subr);
}

enum entry
{ ENTRY_MISSING, ENTRY_OK, ENTRY_DAMAGED };

/* Check the entry OBJ of the cache directory DIRFD: both it and its
   digest SUM can be trusted (open_entry), OBJ starts with the ELF magic,
   and its SHA-256 is the one stored in SUM.  An entry that fails is
   damaged: it is built again and renamed over.  */
static enum entry
check_entry (int dirfd, const char *obj, const char *sum)
{
  size_t n, sn;
  struct stat st;
  int fd = open_entry (dirfd, obj, &st);
  if (fd < 0)
    return errno == ENOENT ? ENTRY_MISSING : ENTRY_DAMAGED;
  char *bytes = slurp_fd (fd, &n);
  close (fd);
  if (!bytes)
    return ENTRY_DAMAGED;
  char hex[65];
  bool ok = n > 4 && memcmp (bytes, "\177ELF", 4) == 0;
  if (ok)
    gebpf_sha256_hex (bytes, n, hex);
  free (bytes);
  char *stored = NULL;
  if (ok && (fd = open_entry (dirfd, sum, &st)) >= 0)
    {
      stored = slurp_fd (fd, &sn);
      close (fd);
    }
  ok = stored && sn >= 64 && memcmp (stored, hex, 64) == 0;
  free (stored);
  return ok ? ENTRY_OK : ENTRY_DAMAGED;
}

/* ------------------------------------------------------------------ */
/* vmlinux.h for CO-RE programs.                                       */

static char btf_digest[65];     /* of the running kernel's BTF, once */

static const char vmlinux_head[] =
  "/* vmlinux.h --- the running kernel's types, from its BTF.\n"
  "   Generated by guile-ebpf; do not edit.  */\n"
  "#ifndef __VMLINUX_H__\n"
  "#define __VMLINUX_H__\n\n"
  "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
  "#pragma clang attribute push (__attribute__((preserve_access_index)), "
  "apply_to = record)\n"
  "#endif\n\n";
static const char vmlinux_tail[] =
  "\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
  "#pragma clang attribute pop\n"
  "#endif\n\n"
  "#endif /* __VMLINUX_H__ */\n";

SCM_NORETURN static void
no_btf (int err, const char *subr)
{
  gebpf_error (gebpf_k_compile, subr, err,
               "CO-RE programs need a kernel built with "
               "CONFIG_DEBUG_INFO_BTF=y (or write the program without "
               "vmlinux.h)",
               "cannot read the kernel's BTF at " VMLINUX_BTF);
}

/* The kernel BTF, malloc'ed, released with the dynwind context.  */
static char *
read_btf (size_t *len, const char *subr)
{
  char *data = slurp (VMLINUX_BTF, len);
  if (!data)
    no_btf (errno, subr);
  scm_dynwind_free (data);
  return data;
}

static const char *
vmlinux_digest (const char *subr)
{
  pthread_mutex_lock (&lock);
  bool known = btf_digest[0] != 0;
  pthread_mutex_unlock (&lock);
  if (known)
    return btf_digest;
  scm_dynwind_begin (0);
  size_t n;
  char *data = read_btf (&n, subr);
  char hex[65];
  gebpf_sha256_hex (data, n, hex);
  scm_dynwind_end ();
  pthread_mutex_lock (&lock);
  memcpy (btf_digest, hex, sizeof hex);
  pthread_mutex_unlock (&lock);
  return btf_digest;
}

/* A header that was renamed into place whole ends with the tail; one
   that open_entry does not trust is made again.  */
static bool
vmlinux_header_ok (int dirfd)
{
  char end[sizeof vmlinux_tail - 1];
  struct stat st;
  int fd = open_entry (dirfd, "vmlinux.h", &st);
  bool ok = fd >= 0
    && st.st_size > (off_t) (sizeof vmlinux_head + sizeof end)
    && pread (fd, end, sizeof end, st.st_size - sizeof end)
    == (ssize_t) sizeof end
    && memcmp (end, vmlinux_tail, sizeof end) == 0;
  if (fd >= 0)
    close (fd);
  return ok;
}

static void
dump_printf (void *ctx, const char *fmt, va_list ap)
{
  vfprintf (ctx, fmt, ap);
}

struct dump
{
  struct btf *btf;
  struct btf_dump *d;
  FILE *f;
};

static void
dump_free (void *data)
{
  struct dump *x = data;
  if (x->d)
    btf_dump__free (x->d);
  if (x->btf)
    btf__free (x->btf);
  if (x->f)
    fclose (x->f);
  free (x);
}

/* Write vmlinux.h in the directory DIRFD (DIR) from the kernel BTF, as
   bpftool's "format c" does: every type in id order, record types marked
   preserve_access_index so field accesses are CO-RE relocations.  */
static void
generate_vmlinux_h (int dirfd, const char *dir, const char *subr)
{
  size_t n;
  char *data = read_btf (&n, subr);
  struct dump *x = calloc (1, sizeof *x);
  if (!x)
    no_memory (subr);
  scm_dynwind_unwind_handler (dump_free, x, SCM_F_WIND_EXPLICITLY);
  x->btf = btf__new (data, n);
  if (!x->btf)
    no_btf (errno, subr);

  int fd;
  struct tmpfile *t = make_temp (dirfd, dir, &fd, subr);
  if (!(x->f = fdopen (fd, "w")))
    {
      close (fd);
      no_memory (subr);
    }
  x->d = btf_dump__new (x->btf, dump_printf, x->f, NULL);
  if (!x->d)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "check that libbpf is installed whole",
                 "libbpf cannot dump the kernel's BTF as C");
  fputs (vmlinux_head, x->f);
  uint32_t count = btf__type_cnt (x->btf);
  for (uint32_t id = 1; id < count; id++)
    {
      int err = btf_dump__dump_type (x->d, id);
      if (err < 0)
        gebpf_error (gebpf_k_compile, subr, -err,
                     "report this kernel's BTF as a libbpf problem",
                     "libbpf cannot dump BTF type %u as C", id);
    }
  fputs (vmlinux_tail, x->f);
  FILE *f = x->f;
  x->f = NULL;
  if (fclose (f) != 0)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "free space in the object cache's file system",
                 "cannot write %s/vmlinux.h", dir);
  commit_temp (t, "vmlinux.h", subr);
}

/* The directory of vmlinux.h for the running kernel's BTF in the cache,
   made if missing, with vmlinux.h (re)generated in it unless it is there
   whole and trusted; its descriptor in *FDP.  Both are released with the
   current dynwind context.  */
static char *
vmlinux_dir (const char *subr, int *fdp)
{
  int cfd;
  const char *cache = cache_dir (subr, &cfd);
  char *name = dw_printf (subr, "vmlinux-%s", vmlinux_digest (subr));
  char *dir = dw_printf (subr, "%s/%s", cache, name);
  int fd = cache_subdir (cfd, name, dir, subr);
  if (!vmlinux_header_ok (fd))
    generate_vmlinux_h (fd, dir, subr);
  *fdp = fd;
  return dir;
}

char *
gebpf_vmlinux_dir (const char *subr)
{
  scm_dynwind_begin (0);
  int fd;
  char *out = strdup (vmlinux_dir (subr, &fd));
  if (!out)
    no_memory (subr);
  scm_dynwind_end ();
  return out;
}

/* The precompiled vmlinux.h in the directory VFD (VDIR) for the clang
   CLANG_ID names (clang_identity) and FLAGS, made if missing or not
   trusted; NULL when it cannot be made (the build then includes the
   header as text).  The name carries the clang and flags it was made
   with, since clang refuses a PCH made otherwise.  Malloc'ed.  */
static char *failed_pch;        /* the PCH that could not be made, once */

static char *
vmlinux_pch (int vfd, const char *vdir, const char *clang,
             const char *clang_id, const struct strv *flags,
             const char *subr)
{
  scm_dynwind_begin (0);
  struct gebpf_sha256 c;
  char hex[65];
  gebpf_sha256_init (&c);
  sha_str (&c, clang_id);
  sha_str (&c, strv_join (flags, subr));
  digest_hex (&c, hex);
  char *name = dw_printf (subr, "vmlinux.h-%.16s.pch", hex);
  char *pch = dw_printf (subr, "%s/%s", vdir, name);
  char *out = NULL;

  struct stat st;
  int fd = open_entry (vfd, name, &st);
  if (fd >= 0)
    {
      close (fd);
      if (st.st_size > 0)
        goto done;
    }
  pthread_mutex_lock (&lock);
  bool failed = failed_pch && strcmp (failed_pch, pch) == 0;
  pthread_mutex_unlock (&lock);
  if (failed)
    {
      pch = NULL;
      goto done;
    }

  struct tmpfile *t = make_temp (vfd, vdir, NULL, subr);
  struct strv argv;
  dw_strv (&argv);
  strv_push (&argv, clang, subr);
  strv_append (&argv, flags, subr);
  strv_push (&argv, "-x", subr);
  strv_push (&argv, "c-header", subr);
  strv_push (&argv, dw_printf (subr, "%s/vmlinux.h", vdir), subr);
  strv_push (&argv, "-o", subr);
  strv_push (&argv, t->path, subr);
  struct run r;
  run_init (&r);
  run (&r, argv.v, NULL, 0, subr);
  if (run_ok (&r))
    commit_temp (t, name, subr);
  else
    {
      pthread_mutex_lock (&lock);
      free (failed_pch);
      failed_pch = strdup (pch);
      pthread_mutex_unlock (&lock);
      pch = NULL;
    }

done:
  if (pch && !(out = strdup (pch)))
    no_memory (subr);
  scm_dynwind_end ();
  return out;
}

/* Whether C_TEXT has the line #include "vmlinux.h".  */
static bool
includes_vmlinux (const char *text, size_t len)
{
  static const char want[] = "\"vmlinux.h\"";
  const char *end = text + len;
  for (const char *p = text; p < end;)
    {
      const char *eol = memchr (p, '\n', end - p);
      if (!eol)
        eol = end;
      while (p < eol && (*p == ' ' || *p == '\t'))
        p++;
      if (p < eol && *p == '#')
        {
          p++;
          while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
          if (eol - p > 7 && memcmp (p, "include", 7) == 0)
            {
              p += 7;
              while (p < eol && (*p == ' ' || *p == '\t'))
                p++;
              if ((size_t) (eol - p) >= sizeof want - 1
                  && memcmp (p, want, sizeof want - 1) == 0)
                return true;
            }
        }
      p = eol + 1;
    }
  return false;
}

/* ------------------------------------------------------------------ */
/* Building.                                                           */

/* Build C_TEXT through the cache.  WHAT names the source in messages;
   SRC_DIR, when not NULL, is the directory of a .bpf.c file: its quoted
   includes are found there, and its headers are part of the key.
   Returns the object's path, malloc'ed.  */
static char *
build (const char *c_text, size_t len, const char *what, const char *src_dir,
       const char *subr)
{
  scm_dynwind_begin (0);
  int dfd, vfd = -1;
  const char *dir = cache_dir (subr, &dfd);
  const char *clang = clang_path ();
  const char *clang_id = clang_identity (clang, subr);

  struct strv flags;
  dw_strv (&flags);
  base_flags (&flags, subr);
  if (src_dir)
    {
      refuse_libc_includes (c_text, len, what, subr);
      strv_push (&flags, "-iquote", subr);
      strv_push (&flags, src_dir, subr);
      if (host_arch_macro ())
        strv_push (&flags, host_arch_macro (), subr);
    }
  const char *vdir = NULL;
  if (includes_vmlinux (c_text, len)
      && !(src_dir && access (dw_printf (subr, "%s/vmlinux.h", src_dir),
                              F_OK) == 0))
    {
      vdir = vmlinux_dir (subr, &vfd);
      strv_push (&flags, dw_printf (subr, "-I%s", vdir), subr);
    }

  struct gebpf_sha256 c;
  char key[65];
  gebpf_sha256_init (&c);
  gebpf_sha256_update (&c, c_text, len);
  gebpf_sha256_update (&c, "", 1);
  sha_str (&c, clang_id);
  sha_str (&c, strv_join (&flags, subr));
  sha_headers (&c, bpf_include_dir ());
  sha_str (&c, libbpf_version_string ());
  if (vdir)
    sha_str (&c, vmlinux_digest (subr));
  if (src_dir)
    sha_headers (&c, src_dir);
  digest_hex (&c, key);

  char *obj_name = dw_printf (subr, "%s.o", key);
  char *sum_name = dw_printf (subr, "%s.sha256", key);
  char *obj = dw_printf (subr, "%s/%s", dir, obj_name);
  switch (check_entry (dfd, obj_name, sum_name))
    {
    case ENTRY_OK:
      COUNT (n_hits);
      goto done;
    case ENTRY_DAMAGED:
      COUNT (n_damaged);
      break;
    case ENTRY_MISSING:
      COUNT (n_misses);
      break;
    }

  struct tmpfile *t = make_temp (dfd, dir, NULL, subr);
  char *pch = vdir ? vmlinux_pch (vfd, vdir, clang, clang_id, &flags, subr)
    : NULL;
  if (pch)
    scm_dynwind_free (pch);
  struct run r;
  struct strv argv;
  run_init (&r);
  dw_strv (&argv);
  for (;;)
    {
      strv_free (&argv);
      strv_push (&argv, clang, subr);
      strv_append (&argv, &flags, subr);
      if (pch)
        {
          strv_push (&argv, "-include-pch", subr);
          strv_push (&argv, pch, subr);
        }
      static const char *const tail[] = { "-c", "-x", "c", "-", "-o" };
      for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
        strv_push (&argv, tail[i], subr);
      strv_push (&argv, t->path, subr);
      run (&r, argv.v, c_text, len, subr);
      if (run_ok (&r))
        break;
      /* A PCH that clang refuses (vmlinux.h rewritten since, say) is
         dropped, and the build retried with the header as text.  */
      if (pch && r.err.p && (strstr (r.err.p, ".pch")
                             || strstr (r.err.p, "precompiled")))
        {
          unlinkat (vfd, strrchr (pch, '/') + 1, 0);
          pch = NULL;
          continue;
        }
      compile_error (&r, clang, what, c_text, len, subr);
    }

  size_t n;
  struct stat st;
  int ofd = open_entry (t->dirfd, t->name, &st);
  char *bytes = ofd >= 0 ? slurp_fd (ofd, &n) : NULL;
  if (ofd >= 0)
    {
      int e = errno;
      close (ofd);
      errno = e;
    }
  if (!bytes)
    gebpf_error (gebpf_k_compile, subr, errno,
                 "check the object cache's file system",
                 "cannot read the object clang wrote for %s", what);
  scm_dynwind_free (bytes);
  if (n < 4 || memcmp (bytes, "\177ELF", 4) != 0)
    gebpf_error (gebpf_k_compile, subr, 0,
                 "check that EBPF_CLANG names clang",
                 "clang wrote something that is not an ELF object for %s",
                 what);
  char hex[66];
  gebpf_sha256_hex (bytes, n, hex);
  hex[64] = '\n';
  write_atomic (dfd, dir, sum_name, hex, 65, subr);
  commit_temp (t, obj_name, subr);

done:;
  char *out = strdup (obj);
  if (!out)
    no_memory (subr);
  scm_dynwind_end ();
  return out;
}

char *
gebpf_build_c (const char *c_text, size_t len, const char *subr)
{
  return build (c_text, len, "the generated C", NULL, subr);
}

/* ------------------------------------------------------------------ */
/* Scheme primitives.                                                  */

SCM_DEFINE_STATIC (scm_bpf_build_c, "%bpf-build-c", 1, 0, 0, (SCM text),
  "Build the BPF C @var{text} with clang, through the object cache, and\n"
  "return the path of the cached object.  Raises @code{ebpf-compile-error}\n"
  "when clang fails (details: @code{log}, @code{c-source}, @code{clang}),\n"
  "cannot be run, or the cache cannot be used.")
#define FUNC_NAME s_scm_bpf_build_c
{
  SCM_VALIDATE_STRING (1, text);
  scm_dynwind_begin (0);
  size_t len;
  char *c = scm_to_utf8_stringn (text, &len);
  scm_dynwind_free (c);
  char *path = gebpf_build_c (c, len, FUNC_NAME);
  SCM out = scm_take_locale_string (path);
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

SCM_DEFINE_STATIC (scm_bpf_build_file, "%bpf-build-file", 1, 0, 0, (SCM file),
  "Build the BPF C source @var{file} (a @file{.bpf.c}) with clang, through\n"
  "the object cache, and return the path of the cached object.  Quoted\n"
  "includes are found beside @var{file}, and headers there are part of\n"
  "the cache key.  Raises @code{ebpf-compile-error} when @var{file} cannot\n"
  "be read or clang fails.")
#define FUNC_NAME s_scm_bpf_build_file
{
  SCM_VALIDATE_STRING (1, file);
  scm_dynwind_begin (0);
  char *path = scm_to_locale_string (file);
  scm_dynwind_free (path);
  size_t n;
  char *body = slurp (path, &n);
  if (!body)
    gebpf_error (gebpf_k_compile, FUNC_NAME, errno,
                 "check the path of the .bpf.c file",
                 "cannot read the BPF source %s", path);
  scm_dynwind_free (body);

  /* Diagnostics and DWARF name the file, not clang's stdin.  */
  struct buf text = { 0 };
  scm_dynwind_unwind_handler (gebpf_buf_free, &text, SCM_F_WIND_EXPLICITLY);
  bool ok = gebpf_buf_add (&text, "#line 1 \"", 9);
  for (const char *p = path; *p && ok; p++)
    ok = (*p == '"' || *p == '\\' ? gebpf_buf_add (&text, "\\", 1) : true)
      && gebpf_buf_add (&text, p, 1);
  ok = ok && gebpf_buf_add (&text, "\"\n", 2) && gebpf_buf_add (&text, body, n);
  if (!ok)
    no_memory (FUNC_NAME);

  char *dir = dw_printf (FUNC_NAME, "%s", path);
  char *slash = strrchr (dir, '/');
  if (!slash)
    dir = (char *) ".";
  else if (slash == dir)
    dir[1] = 0;
  else
    *slash = 0;

  char *obj = build (text.p, text.len, path, dir, FUNC_NAME);
  SCM out = scm_take_locale_string (obj);
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

SCM_DEFINE_STATIC (scm_bpf_cache_dir, "%bpf-cache-dir", 0, 0, 0, (),
  "Return the directory of the object cache, creating it (mode 0700) if\n"
  "needed: @env{XDG_CACHE_HOME}/guile-ebpf, else ~/.cache/guile-ebpf.\n"
  "Raises @code{ebpf-compile-error} if it cannot be created, is a\n"
  "symbolic link, belongs to another user or lies under a directory\n"
  "others can change.")
#define FUNC_NAME s_scm_bpf_cache_dir
{
  scm_dynwind_begin (0);
  SCM out = scm_from_locale_string (cache_dir (FUNC_NAME, NULL));
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

SCM_DEFINE_STATIC (scm_bpf_build_stats, "%bpf-build-stats", 0, 0, 0, (),
  "Return the object cache counters of this process as an alist:\n"
  "@code{hits}, @code{misses} (no entry) and @code{rebuilt-damaged}\n"
  "(an entry failed its check and was rebuilt).  Raises nothing.")
#define FUNC_NAME s_scm_bpf_build_stats
{
  return scm_list_3 (scm_cons (scm_from_utf8_symbol ("hits"),
                               scm_from_ulong (READ (n_hits))),
                     scm_cons (scm_from_utf8_symbol ("misses"),
                               scm_from_ulong (READ (n_misses))),
                     scm_cons (scm_from_utf8_symbol ("rebuilt-damaged"),
                               scm_from_ulong (READ (n_damaged))));
}
#undef FUNC_NAME

SCM_DEFINE_STATIC (scm_bpf_clang_flags, "%bpf-clang-flags", 0, 0, 0, (),
  "Return the flags every BPF build passes to clang, as a list of\n"
  "strings (before @code{-c -x c - -o OBJECT}).  Raises nothing.")
#define FUNC_NAME s_scm_bpf_clang_flags
{
  scm_dynwind_begin (0);
  struct strv f;
  dw_strv (&f);
  base_flags (&f, FUNC_NAME);
  SCM out = SCM_EOL;
  for (size_t i = f.n; i > 0; i--)
    out = scm_cons (scm_from_locale_string (f.v[i - 1]), out);
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

SCM_DEFINE_STATIC (scm_bpf_vmlinux_header, "%bpf-vmlinux-header", 0, 0, 0, (),
  "Return the path of @file{vmlinux.h} for the running kernel, generating\n"
  "it from @file{/sys/kernel/btf/vmlinux} into the object cache if needed.\n"
  "Raises @code{ebpf-compile-error} if the kernel has no BTF or the cache\n"
  "cannot be written.")
#define FUNC_NAME s_scm_bpf_vmlinux_header
{
  scm_dynwind_begin (0);
  char *dir = gebpf_vmlinux_dir (FUNC_NAME);
  scm_dynwind_free (dir);
  SCM out = scm_from_locale_string (dw_printf (FUNC_NAME, "%s/vmlinux.h",
                                               dir));
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

SCM_DEFINE_STATIC (scm_bpf_sha256, "%bpf-sha256", 1, 0, 0, (SCM data),
  "Return the SHA-256 of @var{data}, a bytevector or a string (hashed as\n"
  "UTF-8), as 64 lowercase hex digits.  Raises a wrong-type-arg error for\n"
  "anything else.")
#define FUNC_NAME s_scm_bpf_sha256
{
  char hex[65];
  if (scm_is_bytevector (data))
    {
      gebpf_sha256_hex (SCM_BYTEVECTOR_CONTENTS (data),
                        SCM_BYTEVECTOR_LENGTH (data), hex);
      scm_remember_upto_here_1 (data);
    }
  else
    {
      SCM_VALIDATE_STRING (1, data);
      size_t n;
      char *s = scm_to_utf8_stringn (data, &n);
      gebpf_sha256_hex (s, n, hex);
      free (s);
    }
  return scm_from_latin1_string (hex);
}
#undef FUNC_NAME

void
gebpf_init_build (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "build.x"
#endif
}
