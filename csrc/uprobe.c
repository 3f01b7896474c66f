/* uprobe.c --- where a uprobe or USDT target lands: binaries by name,
   symbols by version, file offsets.

   A target's LIB is a path, an executable found through PATH ("bash"),
   or a library found through the dynamic linker's cache, /etc/ld.so.cache
   ("libc", "c", "libc.so.6").  A symbol is looked up in the ELF's
   .dynsym (with its GNU versions) and .symtab; of several versions the
   default one (SYM@@VERSION, the one a new link binds) is taken unless
   SYM@VERSION names one.  The result is a file offset, so libbpf never
   resolves names itself and cannot stop at an ambiguity it cannot
   explain.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gebpf.h"
#include "elfsyms.h"

/* Raise as gebpf_error does, the message led by WHO ("attaching
   PROGRAM") when there is one: the program whose target this is.  */
static SCM_NORETURN void fail (const char *who, SCM key, const char *subr,
                               int err, const char *fix, const char *fmt,
                               ...) __attribute__ ((format (printf, 6, 7)));

static void
fail (const char *who, SCM key, const char *subr, int err, const char *fix,
      const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  gebpf_error (key, subr, err, fix, "%s%s%s", who ? who : "",
               who ? ": " : "", msg);
}

/* ---- binaries ---------------------------------------------------------- */

static bool
regular_file (const char *path, int mode)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISREG (st.st_mode)
    && access (path, mode) == 0;
}

/* Whether PATH starts like an ELF file: PATH may hold wrapper scripts
   (version managers' shims) that a uprobe cannot use.  */
static bool
elf_file (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char magic[4];
  bool ok = read (fd, magic, 4) == 4 && memcmp (magic, ELFMAG, SELFMAG) == 0;
  close (fd);
  return ok;
}

static char *
in_path (const char *name)
{
  const char *path = getenv ("PATH");
  if (!path || !*path)
    path = "/usr/local/bin:/usr/bin:/bin";
  char *dirs = strdupa (path);
  for (char *save = NULL, *d = strtok_r (dirs, ":", &save); d;
       d = strtok_r (NULL, ":", &save))
    {
      char f[4096];
      snprintf (f, sizeof f, "%s/%s", *d ? d : ".", name);
      if (regular_file (f, X_OK) && elf_file (f))
        return scm_gc_strdup (f, "path");
    }
  return NULL;
}

/* glibc's ld.so.cache, new format (glibc >= 2.32 writes only this).  */
#define CACHE_MAGIC "glibc-ld.so.cache1.1"
#define FLAG_TYPE_MASK 0x00ff
#define FLAG_ELF_LIBC6 0x0003
#define FLAG_REQUIRED_MASK 0xff00

struct cache_entry
{
  int32_t flags;
  uint32_t key, value;
  uint32_t osversion;
  uint64_t hwcap;
};

/* The cache's flag for libraries of this process's ABI.  */
static int
native_required_flag (void)
{
#if defined __x86_64__
  return 0x0300;
#elif defined __aarch64__
  return 0x0a00;
#elif defined __riscv && __riscv_xlen == 64
  return 0x1000;
#else
  return -1;                    /* do not filter */
#endif
}

static bool
lib_name_matches (const char *key, const char *name, const char *base)
{
  size_t bl = strlen (base);
  return strcmp (key, name) == 0
    || (strncmp (key, base, bl) == 0
        && strncmp (key + bl, ".so", 3) == 0
        && (key[bl + 3] == 0 || key[bl + 3] == '.'));
}

static char *
in_ld_cache (const char *name)
{
  int fd = open ("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  struct stat st;
  char *found = NULL;
  if (fstat (fd, &st) == 0 && st.st_size > 48)
    {
      size_t size = (size_t) st.st_size;
      const char *m = mmap (NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m != MAP_FAILED)
        {
          /* The new format, alone or after the old one's entries.  */
          const char *h = memmem (m, size, CACHE_MAGIC, strlen (CACHE_MAGIC));
          if (h && (size_t) (h - m) + 48 <= size)
            {
              uint32_t n;
              memcpy (&n, h + 20, sizeof n);
              size_t room = size - (size_t) (h - m) - 48;
              if (n > room / sizeof (struct cache_entry))
                n = (uint32_t) (room / sizeof (struct cache_entry));
              char base[512];
              snprintf (base, sizeof base, "%s%s",
                        strncmp (name, "lib", 3) == 0 ? "" : "lib", name);
              int want = native_required_flag ();
              /* Entries of glibc-hwcaps subdirectories (hwcap set) come
                 first, but a process on a CPU without those features
                 loads the plain library: take that one if there is one.  */
              for (uint32_t k = 0; k < 2 * n && !found; k++)
                {
                  uint32_t i = k % n;
                  struct cache_entry e;
                  memcpy (&e, h + 48 + i * sizeof e, sizeof e);
                  if ((k < n) != (e.hwcap == 0)
                      || (e.flags & FLAG_TYPE_MASK) != FLAG_ELF_LIBC6
                      || (want >= 0 && (e.flags & FLAG_REQUIRED_MASK) != want)
                      || e.key >= size - (size_t) (h - m)
                      || e.value >= size - (size_t) (h - m))
                    continue;
                  const char *key = h + e.key, *value = h + e.value;
                  /* Both are NUL-terminated within the file.  */
                  if (!memchr (key, 0, size - (size_t) (key - m))
                      || !memchr (value, 0, size - (size_t) (value - m)))
                    continue;
                  if (lib_name_matches (key, name, base)
                      && regular_file (value, R_OK))
                    found = scm_gc_strdup (value, "path");
                }
            }
          munmap ((void *) m, size);
        }
    }
  close (fd);
  return found;
}

const char *
gebpf_uprobe_binary (const char *lib, const char *subr, const char *who)
{
  if (!*lib)
    fail (who, gebpf_k_validation, subr, 0,
                 "write the target as \"LIB:SYMBOL\", e.g. "
                 "\"libc:malloc\" or \"/usr/bin/bash:readline\"",
                 "uprobe target without a binary");
  if (strchr (lib, '/'))
    {
      struct stat st;
      int err = stat (lib, &st) != 0 ? errno
        : !S_ISREG (st.st_mode) ? EISDIR
        : access (lib, R_OK) != 0 ? errno : 0;
      if (err)
        fail (who, gebpf_k_attach, subr, err,
                     "give the path of an existing executable or library "
                     "(or its name alone: \"libc\", \"bash\")",
                     "no binary %s", lib);
      return lib;
    }
  char *p = in_path (lib);
  if (!p)
    p = in_ld_cache (lib);
  if (!p)
    fail (who, gebpf_k_attach, subr, ENOENT,
                 "give the full path of the binary, or a name that "
                 "`ldconfig -p' lists (\"libc\", \"libpthread\") or that "
                 "is an executable in PATH (\"bash\")",
                 "no library or executable named %s (searched PATH and the "
                 "dynamic linker's cache)", lib);
  return p;
}

/* ---- symbols ----------------------------------------------------------- */

struct cand
{
  GElf_Addr addr;
  char version[64];
  bool is_default;              /* SYM@@V, or no version at all */
  bool local;                   /* STB_LOCAL: a static function */
};

#define MAX_CANDS 32

struct lookup
{
  const char *sym;              /* the name, without @version */
  struct cand c[MAX_CANDS];
  int n;
};

static void
add_cand (struct lookup *lk, GElf_Addr addr, const char *version,
          bool is_default, bool local)
{
  if (lk->n == MAX_CANDS)
    return;
  struct cand *c = &lk->c[lk->n++];
  c->addr = addr;
  snprintf (c->version, sizeof c->version, "%s", version ? version : "");
  c->is_default = is_default;
  c->local = local;
}

/* A symbol named LK->sym, or LK->sym@VERSION as .symtab spells
   versions into names (SYM@V, SYM@@V), is a candidate.  */
static bool
scan_symbol (const struct gebpf_elf_sym *s, void *ctx)
{
  struct lookup *lk = ctx;
  size_t symlen = strlen (lk->sym);
  if (strncmp (s->name, lk->sym, symlen) != 0)
    return true;
  if (s->name[symlen] == 0)
    add_cand (lk, s->value, s->version, s->is_default, s->local);
  else if (s->name[symlen] == '@')
    {
      bool dflt = s->name[symlen + 1] == '@';
      add_cand (lk, s->value, s->name + symlen + (dflt ? 2 : 1), dflt,
                s->local);
    }
  return true;
}

/* The file offset of virtual address ADDR.  */
static bool
addr_to_offset (Elf *elf, GElf_Addr addr, size_t *off)
{
  size_t nph;
  if (elf_getphdrnum (elf, &nph) != 0)
    return false;
  for (size_t i = 0; i < nph; i++)
    {
      GElf_Phdr ph;
      if (gelf_getphdr (elf, (int) i, &ph) && ph.p_type == PT_LOAD
          && addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_memsz)
        {
          *off = (size_t) (addr - ph.p_vaddr + ph.p_offset);
          return true;
        }
    }
  return false;
}

static void
versions_list (struct lookup *lk, char *out, size_t size)
{
  out[0] = 0;
  for (int i = 0; i < lk->n; i++)
    if (lk->c[i].version[0])
      {
        char one[128];
        snprintf (one, sizeof one, "%s%s%s%s", out[0] ? ", " : "", lk->sym,
                  lk->c[i].is_default ? "@@" : "@", lk->c[i].version);
        if (!strstr (out, one + (out[0] ? 2 : 0)))
          strncat (out, one, size - strlen (out) - 1);
      }
}

static Elf *
open_elf (const char *path, int *fd, const char *subr, const char *who)
{
  Elf *elf;
  int r = gebpf_elf_open (path, &elf, fd);
  if (r == -ENOEXEC)
    fail (who, gebpf_k_attach, subr, 0,
                 "give an ELF executable or shared library (not a script "
                 "or a linker script such as libc.so)",
                 "%s is not an ELF file", path);
  if (r < 0)
    fail (who, gebpf_k_attach, subr, -r,
                 "give the path of a readable executable or library",
                 "cannot open %s", path);
  return elf;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The names a listing collects.  */
struct names
{
  const char *glob;
  char **v;
  size_t n, cap;
};

static bool
list_symbol (const struct gebpf_elf_sym *s, void *ctx)
{
  struct names *ns = ctx;
  /* .symtab's SYM@VERSION is the symbol SYM.  */
  char *plain = strndup (s->name, strcspn (s->name, "@"));
  if (!plain || fnmatch (ns->glob, plain, 0) != 0)
    {
      free (plain);
      return true;
    }
  if (ns->n == ns->cap)
    {
      size_t cap = ns->cap ? 2 * ns->cap : 64;
      char **more = realloc (ns->v, cap * sizeof *more);
      if (!more)
        {
          free (plain);
          return false;
        }
      ns->v = more;
      ns->cap = cap;
    }
  ns->v[ns->n++] = plain;
  return true;
}

SCM
gebpf_uprobe_symbols (const char *path, const char *glob, const char *subr,
                      const char *who)
{
  int fd;
  Elf *elf = open_elf (path, &fd, subr, who);
  struct names ns = { glob, NULL, 0, 0 };
  gebpf_elf_functions (elf, GEBPF_ELF_SYMTAB | GEBPF_ELF_DYNSYM,
                       list_symbol, &ns);
  gebpf_elf_close (elf, fd);
  if (ns.n)
    qsort (ns.v, ns.n, sizeof *ns.v, cmp_str);
  SCM out = SCM_EOL;
  for (size_t i = ns.n; i-- > 0;)
    {
      if (i + 1 >= ns.n || strcmp (ns.v[i], ns.v[i + 1]) != 0)
        out = scm_cons (scm_from_utf8_string (ns.v[i]), out);
    }
  for (size_t i = 0; i < ns.n; i++)
    free (ns.v[i]);
  free (ns.v);
  return out;
}

size_t
gebpf_uprobe_offset (const char *path, const char *symbol, const char *subr,
                     const char *who)
{
  char *end = NULL;
  if (strncmp (symbol, "0x", 2) == 0 || strncmp (symbol, "0X", 2) == 0)
    {
      errno = 0;
      unsigned long long off = strtoull (symbol, &end, 16);
      if (errno || end == symbol + 2 || *end)
        fail (who, gebpf_k_validation, subr, 0,
                     "write a file offset as 0x followed by hex digits",
                     "bad offset %s in uprobe target", symbol);
      return (size_t) off;
    }
  if (!*symbol)
    fail (who, gebpf_k_validation, subr, 0,
                 "write the target as \"LIB:SYMBOL\", e.g. \"libc:malloc\"",
                 "uprobe target %s: without a symbol", path);

  /* SYM, SYM@VERSION or SYM@@VERSION.  */
  char *sym = strdupa (symbol);
  const char *want = NULL;
  char *at = strchr (sym, '@');
  if (at)
    {
      *at = 0;
      want = at[1] == '@' ? at + 2 : at + 1;
    }

  int fd;
  Elf *elf = open_elf (path, &fd, subr, who);
  struct lookup lk = { .sym = sym };
  gebpf_elf_functions (elf, GEBPF_ELF_SYMTAB | GEBPF_ELF_DYNSYM,
                       scan_symbol, &lk);

  /* Choose: the named version; else the one address all candidates
     share; else the one of the default versions; else the one of the
     global default versions (a static function of the same name in
     .symtab is not what a caller of SYM reaches).  */
  int pick = -1;
  bool ambiguous = false;
  for (int pass = 0; pass < 3; pass++)
    {
      int p = -1;
      bool amb = false;
      for (int i = 0; i < lk.n; i++)
        {
          struct cand *c = &lk.c[i];
          if ((want && strcmp (c->version, want) != 0)
              || (pass >= 1 && !c->is_default) || (pass == 2 && c->local))
            continue;
          if (p < 0)
            p = i;
          else if (lk.c[p].addr != c->addr)
            amb = true;
        }
      if (p < 0)
        break;                  /* keep what the wider pass found */
      pick = p;
      ambiguous = amb;
      if (!amb || want)
        break;
    }
  char versions[512];
  versions_list (&lk, versions, sizeof versions);
  char fix_versions[600];
  snprintf (fix_versions, sizeof fix_versions, "name one of %s", versions);
  size_t off = 0;
  bool mapped = pick >= 0 && !ambiguous
    && addr_to_offset (elf, lk.c[pick].addr, &off);
  gebpf_elf_close (elf, fd);
  if (pick < 0 && want && lk.n)
    fail (who, gebpf_k_attach, subr, 0,
                 versions[0] ? scm_gc_strdup (fix_versions, "fix")
                 : "drop the @VERSION: the symbol is not versioned",
                 "%s has no version %s of %s", path, want, sym);
  if (pick < 0)
    fail (who, gebpf_k_attach, subr, ENOENT,
                 "check the name with `nm -D --defined-only' on the file "
                 "(it must be a function defined there, not one it imports)",
                 "%s defines no function %s", path, sym);
  if (ambiguous)
    fail (who, gebpf_k_attach, subr, 0,
                 "name one version: SYMBOL@VERSION",
                 "%s has several %s at different addresses: %s", path, sym,
                 versions);
  if (!mapped)
    fail (who, gebpf_k_attach, subr, 0,
                 "give the file offset as 0xOFFSET",
                 "%s: the address of %s is in no loadable segment", path,
                 sym);
  return off;
}
