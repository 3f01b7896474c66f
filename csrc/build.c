/* build.c --- clang, and the content-addressed cache of BPF objects.

   Building is the one place guile-ebpf runs clang.  C text (generated from a
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

   This file holds the flags, the key, the build driver, its Scheme
   primitives and the small helpers build.h declares; running clang is
   process.c, the cache directory and its trust rule cache.c, vmlinux.h
   and its precompiled header vmlinux.c.

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
#include "build.h"


/* Counters of this process, for (bpf-build-stats).  */
static unsigned long n_hits, n_misses, n_damaged;

#define COUNT(var) __atomic_fetch_add (&(var), 1, __ATOMIC_RELAXED)
#define READ(var) __atomic_load_n (&(var), __ATOMIC_RELAXED)

/* ------------------------------------------------------------------ */
/* Memory that is released when a throw unwinds the current dynwind.   */

void
gebpf_build_no_memory (const char *subr)
{
  gebpf_error (gebpf_k_compile, subr, ENOMEM, "free some memory and retry",
               "out of memory while building a BPF object");
}

/* asprintf into memory freed when the dynwind context ends.  */
char *
gebpf_dw_printf (const char *subr, const char *fmt, ...)
{
  char *s;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (r < 0)
    gebpf_build_no_memory (subr);
  scm_dynwind_free (s);
  return s;
}

/* A vector of malloc'ed strings (argv, flags).  */
void
gebpf_strv_free (void *data)
{
  struct strv *s = data;
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

void
gebpf_strv_push (struct strv *s, const char *str, const char *subr)
{
  if (s->n + 2 > s->cap)
    {
      size_t cap = s->cap ? 2 * s->cap : 32;
      char **v = realloc (s->v, cap * sizeof *v);
      if (!v)
        gebpf_build_no_memory (subr);
      s->v = v;
      s->cap = cap;
    }
  if (!(s->v[s->n] = strdup (str)))
    gebpf_build_no_memory (subr);
  s->v[++s->n] = NULL;
}

void
gebpf_strv_append (struct strv *s, const struct strv *t, const char *subr)
{
  for (size_t i = 0; i < t->n; i++)
    gebpf_strv_push (s, t->v[i], subr);
}

/* A strv released when the dynwind context ends, however it ends.  */
void
gebpf_dw_strv (struct strv *s)
{
  memset (s, 0, sizeof *s);
  scm_dynwind_unwind_handler (gebpf_strv_free, s, SCM_F_WIND_EXPLICITLY);
}

char *
gebpf_strv_join (const struct strv *s, const char *subr)
{
  struct buf b = { 0 };
  for (size_t i = 0; i < s->n; i++)
    if ((i && !gebpf_buf_add (&b, " ", 1)) || !gebpf_buf_str (&b, s->v[i]))
      {
        free (b.p);
        gebpf_build_no_memory (subr);
      }
  if (!b.p && !gebpf_buf_add (&b, "", 0))
    gebpf_build_no_memory (subr);
  scm_dynwind_free (b.p);
  return b.p;
}

/* ------------------------------------------------------------------ */
/* Digests.                                                            */

void
gebpf_digest_hex (struct gebpf_sha256 *c, char hex[65])
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

void
gebpf_sha_str (struct gebpf_sha256 *c, const char *s)
{
  gebpf_sha256_update (c, s, strlen (s) + 1);   /* with its NUL */
}

/* Read the rest of FD into malloc'ed memory (NUL-terminated).  Returns
   NULL and sets errno on failure.  FD stays open.  */
char *
gebpf_slurp_fd (int fd, size_t *len)
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
char *
gebpf_slurp (const char *path, size_t *len)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *out = gebpf_slurp_fd (fd, len);
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
  gebpf_sha_str (c, dir);
  for (int i = 0; i < n; i++)
    {
      char *path = NULL, *text;
      size_t len;
      if (asprintf (&path, "%s/%s", dir, names[i]->d_name) >= 0
          && (text = gebpf_slurp (path, &len)))
        {
          gebpf_sha_str (c, names[i]->d_name);
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
   costs ~20 ms).  Raises what gebpf_run () would raise when there is no such
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
          char *f = end > p
            ? gebpf_dw_printf (subr, "%.*s/%s", (int) (end - p), p, clang)
            : gebpf_dw_printf (subr, "./%s", clang);
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
  return gebpf_dw_printf (subr, "%s|%llu|%llu|%llu|%lld.%09ld", path,
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
    gebpf_strv_push (f, fixed[i], subr);
  if (target_arch ())
    gebpf_strv_push (f, gebpf_dw_printf (subr, "-D__TARGET_ARCH_%s",
                                         target_arch ()), subr);
  gebpf_strv_push (f, gebpf_dw_printf (subr, "-I%s", bpf_include_dir ()),
                   subr);
  if (multiarch ())
    {
      char *dir = gebpf_dw_printf (subr, "/usr/include/%s", multiarch ());
      if (access (dir, F_OK) == 0)
        gebpf_strv_push (f, gebpf_dw_printf (subr, "-I%s", dir), subr);
    }
  for (size_t i = 0; i < sizeof warnings / sizeof *warnings; i++)
    gebpf_strv_push (f, warnings[i], subr);
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
  const char *dir = gebpf_cache_dir (subr, &dfd);
  const char *clang = clang_path ();
  const char *clang_id = clang_identity (clang, subr);

  struct strv flags;
  gebpf_dw_strv (&flags);
  base_flags (&flags, subr);
  if (src_dir)
    {
      refuse_libc_includes (c_text, len, what, subr);
      gebpf_strv_push (&flags, "-iquote", subr);
      gebpf_strv_push (&flags, src_dir, subr);
      if (host_arch_macro ())
        gebpf_strv_push (&flags, host_arch_macro (), subr);
    }
  const char *vdir = NULL;
  if (gebpf_includes_vmlinux (c_text, len)
      && !(src_dir && access (gebpf_dw_printf (subr, "%s/vmlinux.h", src_dir),
                              F_OK) == 0))
    {
      vdir = gebpf_vmlinux_dir_fd (subr, &vfd);
      gebpf_strv_push (&flags, gebpf_dw_printf (subr, "-I%s", vdir), subr);
    }

  struct gebpf_sha256 c;
  char key[65];
  gebpf_sha256_init (&c);
  gebpf_sha256_update (&c, c_text, len);
  gebpf_sha256_update (&c, "", 1);
  gebpf_sha_str (&c, clang_id);
  gebpf_sha_str (&c, gebpf_strv_join (&flags, subr));
  sha_headers (&c, bpf_include_dir ());
  gebpf_sha_str (&c, libbpf_version_string ());
  if (vdir)
    gebpf_sha_str (&c, gebpf_vmlinux_digest (subr));
  if (src_dir)
    sha_headers (&c, src_dir);
  gebpf_digest_hex (&c, key);

  char *obj_name = gebpf_dw_printf (subr, "%s.o", key);
  char *sum_name = gebpf_dw_printf (subr, "%s.sha256", key);
  char *obj = gebpf_dw_printf (subr, "%s/%s", dir, obj_name);
  switch (gebpf_cache_check_entry (dfd, obj_name, sum_name))
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

  struct tmpfile *t = gebpf_cache_make_temp (dfd, dir, NULL, subr);
  char *pch = vdir
    ? gebpf_vmlinux_pch (vfd, vdir, clang, clang_id, &flags, subr) : NULL;
  if (pch)
    scm_dynwind_free (pch);
  struct run r;
  struct strv argv;
  gebpf_run_init (&r);
  gebpf_dw_strv (&argv);
  for (;;)
    {
      gebpf_strv_free (&argv);
      gebpf_strv_push (&argv, clang, subr);
      gebpf_strv_append (&argv, &flags, subr);
      if (pch)
        {
          gebpf_strv_push (&argv, "-include-pch", subr);
          gebpf_strv_push (&argv, pch, subr);
        }
      static const char *const tail[] = { "-c", "-x", "c", "-", "-o" };
      for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
        gebpf_strv_push (&argv, tail[i], subr);
      gebpf_strv_push (&argv, t->path, subr);
      gebpf_run (&r, argv.v, c_text, len, subr);
      if (gebpf_run_ok (&r))
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
  int ofd = gebpf_cache_open_entry (t->dirfd, t->name, &st);
  char *bytes = ofd >= 0 ? gebpf_slurp_fd (ofd, &n) : NULL;
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
  gebpf_cache_write_atomic (dfd, dir, sum_name, hex, 65, subr);
  gebpf_cache_commit_temp (t, obj_name, subr);

done:;
  char *out = strdup (obj);
  if (!out)
    gebpf_build_no_memory (subr);
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
  char *body = gebpf_slurp (path, &n);
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
    gebpf_build_no_memory (FUNC_NAME);

  char *dir = gebpf_dw_printf (FUNC_NAME, "%s", path);
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
  SCM out = scm_from_locale_string (gebpf_cache_dir (FUNC_NAME, NULL));
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
  gebpf_dw_strv (&f);
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
  SCM out = scm_from_locale_string (gebpf_dw_printf (FUNC_NAME,
                                                     "%s/vmlinux.h", dir));
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
