/* symbols.c --- the names of recorded stack addresses.

   Kernel addresses are named from /proc/kallsyms (read once), user
   addresses of a process from the ELF symbol tables of the files it maps
   (/proc/PID/maps): the file's .symtab, else that of its detached debug
   file (by build id), else its .dynsym, read through elfsyms.c and kept
   in a small cache checked against the file's inode and mtime.
   %bpf-symbolize names a list of addresses as bpftrace prints stacks,
   %bpf-symbol one address as (NAME . OFFSET).  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "gebpf.h"
#include "elfsyms.h"

/* ------------------------------------------------------------------ */
/* Symbol tables, sorted by address.                                    */

struct sym
{
  uint64_t addr, size;          /* size 0: up to the next symbol */
  const char *name;
};

struct symtab
{
  struct sym *syms;
  size_t n;
  char *names;                  /* one block holding every name */
};

/* A table being filled: the capacities of its arrays, and the length
   of its name block (names are offsets into it until symtab_done).  */
struct filling
{
  struct symtab *t;
  size_t cap, nlen, ncap;
};

/* Add NAME at ADDR (SIZE bytes, 0: unknown); false when out of memory.  */
static bool
symtab_add (struct filling *f, uint64_t addr, uint64_t size,
            const char *name)
{
  struct symtab *t = f->t;
  size_t len = strlen (name) + 1;
  if (t->n == f->cap)
    {
      size_t cap = f->cap ? f->cap * 2 : 1024;
      struct sym *ns = realloc (t->syms, cap * sizeof *ns);
      if (!ns)
        return false;
      t->syms = ns;
      f->cap = cap;
    }
  if (f->nlen + len > f->ncap)
    {
      size_t ncap = f->ncap ? f->ncap * 2 : 65536;
      while (f->nlen + len > ncap)
        ncap *= 2;
      char *nb = realloc (t->names, ncap);
      if (!nb)
        return false;
      t->names = nb;
      f->ncap = ncap;
    }
  memcpy (t->names + f->nlen, name, len);
  /* An offset for now: the name block may still move.  */
  t->syms[t->n++] = (struct sym) { addr, size, (const char *) f->nlen };
  f->nlen += len;
  return true;
}

static int
sym_cmp (const void *a, const void *b)
{
  const struct sym *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The names made pointers, the symbols sorted.  */
static void
symtab_done (struct symtab *t)
{
  for (size_t i = 0; i < t->n; i++)
    t->syms[i].name = t->names + (size_t) t->syms[i].name;
  qsort (t->syms, t->n, sizeof *t->syms, sym_cmp);
}

/* The symbol covering ADDR in T (sorted), or NULL.  */
static const struct sym *
sym_find (const struct symtab *t, uint64_t addr)
{
  size_t lo = 0, hi = t->n;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (t->syms[mid].addr <= addr)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo == 0)
    return NULL;
  const struct sym *s = &t->syms[lo - 1];
  if (s->size && addr >= s->addr + s->size)
    return NULL;
  return s;
}

/* ------------------------------------------------------------------ */
/* Kernel symbols: /proc/kallsyms, read once.                           */

static struct symtab ksyms;
static bool ksyms_loaded;

static void
load_kallsyms (void)
{
  if (ksyms_loaded)
    return;
  ksyms_loaded = true;
  FILE *f = fopen ("/proc/kallsyms", "re");
  if (!f)
    return;
  struct filling fill = { &ksyms, 0, 0, 0 };
  char line[512];
  while (fgets (line, sizeof line, f))
    {
      unsigned long long a;
      char type, name[256];
      if (sscanf (line, "%llx %c %255s", &a, &type, name) != 3 || a == 0)
        continue;
      if (type != 't' && type != 'T' && type != 'w' && type != 'W')
        continue;
      if (!symtab_add (&fill, a, 0, name))
        break;
    }
  fclose (f);
  symtab_done (&ksyms);
}

/* ------------------------------------------------------------------ */
/* User symbols: the ELF files a process maps.                          */

struct elf_syms
{
  char *path;
  dev_t dev;
  ino_t ino;
  struct timespec mtime;
  struct symtab tab;
  /* PT_LOAD segments: file offset -> virtual address.  */
  size_t nload;
  struct { uint64_t off, filesz, vaddr; } *load;
  struct elf_syms *next;
};

static struct elf_syms *elf_cache;
static size_t elf_cache_n;
#define ELF_CACHE_MAX 64

static void
elf_syms_free (struct elf_syms *e)
{
  free (e->path);
  free (e->tab.syms);
  free (e->tab.names);
  free (e->load);
  free (e);
}

static bool
read_symbol (const struct gebpf_elf_sym *s, void *ctx)
{
  return symtab_add (ctx, s->value, s->size, s->name);
}

/* The path of ELF's detached debug file by its build id,
   /usr/lib/debug/.build-id/XX/YYYY.debug, into BUF when that file
   exists.  */
static bool
debug_file_path (Elf *elf, char *buf, size_t size)
{
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn (elf, scn)))
    {
      GElf_Shdr sh;
      if (!gelf_getshdr (scn, &sh) || sh.sh_type != SHT_NOTE)
        continue;
      Elf_Data *data = elf_getdata (scn, NULL);
      GElf_Nhdr nh;
      size_t off = 0, name_off, desc_off;
      while (data && (off = gelf_getnote (data, off, &nh, &name_off,
                                          &desc_off)) > 0)
        {
          if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4
              || memcmp ((char *) data->d_buf + name_off, "GNU", 4) != 0
              || nh.n_descsz < 2 || nh.n_descsz > 40)
            continue;
          const unsigned char *id = (unsigned char *) data->d_buf + desc_off;
          size_t n = snprintf (buf, size, "/usr/lib/debug/.build-id/%02x/",
                               id[0]);
          for (size_t i = 1; i < nh.n_descsz && n + 3 < size; i++)
            n += snprintf (buf + n, size - n, "%02x", id[i]);
          snprintf (buf + n, size - n, ".debug");
          return access (buf, R_OK) == 0;
        }
    }
  return false;
}

static struct elf_syms *
elf_syms_load (const char *path)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return NULL;
  struct elf_syms **pp = &elf_cache;
  for (struct elf_syms *e = elf_cache; e; pp = &e->next, e = e->next)
    if (strcmp (e->path, path) == 0)
      {
        if (e->dev == st.st_dev && e->ino == st.st_ino
            && e->mtime.tv_sec == st.st_mtim.tv_sec
            && e->mtime.tv_nsec == st.st_mtim.tv_nsec)
          return e;
        *pp = e->next;            /* stale: the file changed */
        elf_syms_free (e);
        elf_cache_n--;
        break;
      }
  int fd;
  Elf *elf;
  if (gebpf_elf_open (path, &elf, &fd) < 0)
    return NULL;
  struct elf_syms *e = calloc (1, sizeof *e);
  e->path = strdup (path);
  e->dev = st.st_dev;
  e->ino = st.st_ino;
  e->mtime = st.st_mtim;
  size_t nph = 0;
  if (elf_getphdrnum (elf, &nph) == 0 && nph)
    {
      e->load = calloc (nph, sizeof *e->load);
      for (size_t i = 0; i < nph && e->load; i++)
        {
          GElf_Phdr ph;
          if (gelf_getphdr (elf, (int) i, &ph) && ph.p_type == PT_LOAD)
            {
              e->load[e->nload].off = ph.p_offset;
              e->load[e->nload].filesz = ph.p_filesz;
              e->load[e->nload].vaddr = ph.p_vaddr;
              e->nload++;
            }
        }
    }
  /* The full symbol table where the file has one, else the one of its
     detached debug file (a stripped library whose -dbg package is
     installed: the names bpftrace shows), else the dynamic one.  */
  struct filling fill = { &e->tab, 0, 0, 0 };
  gebpf_elf_functions (elf, GEBPF_ELF_SYMTAB, read_symbol, &fill);
  if (e->tab.n == 0)
    {
      char dbg[128];
      int dfd;
      Elf *delf;
      if (debug_file_path (elf, dbg, sizeof dbg)
          && gebpf_elf_open (dbg, &delf, &dfd) == 0)
        {
          gebpf_elf_functions (delf, GEBPF_ELF_SYMTAB, read_symbol, &fill);
          gebpf_elf_close (delf, dfd);
        }
    }
  if (e->tab.n == 0)
    gebpf_elf_functions (elf, GEBPF_ELF_DYNSYM, read_symbol, &fill);
  gebpf_elf_close (elf, fd);
  symtab_done (&e->tab);
  if (elf_cache_n >= ELF_CACHE_MAX)
    {
      /* Drop the oldest (the list's tail).  */
      struct elf_syms **q = &elf_cache;
      while ((*q)->next)
        q = &(*q)->next;
      elf_syms_free (*q);
      *q = NULL;
      elf_cache_n--;
    }
  e->next = elf_cache;
  elf_cache = e;
  elf_cache_n++;
  return e;
}

struct mapping
{
  uint64_t start, end, pgoff;
  char *path;
};

/* The file-backed mappings of process PID.  */
static struct mapping *
read_maps (int pid, size_t *n)
{
  char p[64];
  snprintf (p, sizeof p, "/proc/%d/maps", pid);
  FILE *f = fopen (p, "re");
  *n = 0;
  if (!f)
    return NULL;
  size_t cap = 0;
  struct mapping *v = NULL;
  char *line = NULL;
  size_t len = 0;
  while (getline (&line, &len, f) > 0)
    {
      unsigned long long s, e, off;
      char perms[8];
      int path_at = 0;
      if (sscanf (line, "%llx-%llx %7s %llx %*s %*s %n", &s, &e, perms, &off,
                  &path_at) < 4 || !path_at || line[path_at] != '/')
        continue;
      char *path = line + path_at;
      path[strcspn (path, "\n")] = 0;
      if (*n == cap)
        {
          cap = cap ? cap * 2 : 64;
          struct mapping *nv = realloc (v, cap * sizeof *nv);
          if (!nv)
            break;
          v = nv;
        }
      v[(*n)++] = (struct mapping) { s, e, off, strdup (path) };
    }
  free (line);
  fclose (f);
  return v;
}

static SCM
name_plus (const char *name, uint64_t off)
{
  char buf[600];
  snprintf (buf, sizeof buf, "%s+%llu", name, (unsigned long long) off);
  return scm_from_utf8_string (buf);
}

static SCM
hex_addr (uint64_t a)
{
  char buf[32];
  snprintf (buf, sizeof buf, "0x%llx", (unsigned long long) a);
  return scm_from_utf8_string (buf);
}

/* The symbol covering user address ADDR of a process with mappings
   MAPS, and *OFF the offset of ADDR into it; NULL when none does.  */
static const struct sym *
user_sym (struct mapping *maps, size_t nmaps, uint64_t addr, uint64_t *off)
{
  for (size_t i = 0; i < nmaps; i++)
    {
      struct mapping *mp = &maps[i];
      if (addr < mp->start || addr >= mp->end)
        continue;
      struct elf_syms *e = elf_syms_load (mp->path);
      if (!e)
        return NULL;
      uint64_t fo = addr - mp->start + mp->pgoff;
      for (size_t j = 0; j < e->nload; j++)
        if (fo >= e->load[j].off && fo < e->load[j].off + e->load[j].filesz)
          {
            uint64_t va = fo - e->load[j].off + e->load[j].vaddr;
            const struct sym *s = sym_find (&e->tab, va);
            if (s)
              *off = va - s->addr;
            return s;
          }
      return NULL;
    }
  return NULL;
}

static SCM
user_symbol (struct mapping *maps, size_t nmaps, uint64_t addr)
{
  uint64_t off = 0;
  const struct sym *s = user_sym (maps, nmaps, addr, &off);
  return s ? name_plus (s->name, off) : SCM_BOOL_F;
}

#define FUNC_NAME s_scm_bpf_symbolize
SCM_DEFINE_STATIC (scm_bpf_symbolize, "%bpf-symbolize", 2, 0, 0,
                   (SCM addrs, SCM pid),
                   "Name each address of the list @var{addrs}: kernel "
                   "addresses from /proc/kallsyms when @var{pid} is "
                   "@code{#f}, else user addresses of process @var{pid} "
                   "from the ELF symbols of the files it maps.  Each name "
                   "is @code{\"SYMBOL+OFFSET\"} (decimal offset, as "
                   "bpftrace prints stacks), or @code{\"0xADDRESS\"} when "
                   "no symbol covers it.  Raises "
                   "@code{ebpf-validation-error} for a bad address list.")
{
  long len = scm_ilength (addrs);
  if (len < 0)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give a list of addresses (integers)",
                 "not a list: %s", gebpf_repr (addrs));
  struct mapping *maps = NULL;
  size_t nmaps = 0;
  if (scm_is_true (pid))
    {
      if (!scm_is_signed_integer (pid, 1, INT32_MAX))
        gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                     "give #:pid as a process id",
                     "bad process id %s (between 1 and 2^31-1)",
                     gebpf_repr (pid));
      maps = read_maps (scm_to_int (pid), &nmaps);
    }
  else
    load_kallsyms ();
  SCM out = SCM_EOL;
  for (SCM l = addrs; scm_is_pair (l); l = SCM_CDR (l))
    {
      if (!scm_is_unsigned_integer (SCM_CAR (l), 0, UINT64_MAX))
        {
          for (size_t i = 0; i < nmaps; i++)
            free (maps[i].path);
          free (maps);
          gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                       "give addresses as non-negative integers",
                       "bad address %s (between 0 and 2^64-1)",
                       gebpf_repr (SCM_CAR (l)));
        }
      uint64_t a = scm_to_uint64 (SCM_CAR (l));
      SCM name = SCM_BOOL_F;
      if (maps || scm_is_true (pid))
        name = user_symbol (maps, nmaps, a);
      else
        {
          const struct sym *s = sym_find (&ksyms, a);
          if (s)
            name = name_plus (s->name, a - s->addr);
        }
      out = scm_cons (scm_is_true (name) ? name : hex_addr (a), out);
    }
  for (size_t i = 0; i < nmaps; i++)
    free (maps[i].path);
  free (maps);
  return scm_reverse_x (out, SCM_EOL);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_symbol
SCM_DEFINE_STATIC (scm_bpf_symbol, "%bpf-symbol", 2, 0, 0,
                   (SCM addr, SCM pid),
                   "Return @code{(NAME . OFFSET)} for the symbol covering "
                   "@var{addr}: a kernel symbol when @var{pid} is @code{#f}, "
                   "else one of the files process @var{pid} maps; "
                   "@code{#f} when no symbol covers it.")
{
  if (!scm_is_unsigned_integer (addr, 0, UINT64_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give an address as a non-negative integer",
                 "bad address %s", gebpf_repr (addr));
  uint64_t a = scm_to_uint64 (addr), off = 0;
  const struct sym *s = NULL;
  if (scm_is_false (pid))
    {
      load_kallsyms ();
      s = sym_find (&ksyms, a);
      if (s)
        off = a - s->addr;
    }
  else
    {
      if (!scm_is_signed_integer (pid, 1, INT32_MAX))
        gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                     "give a process id (a positive integer)",
                     "bad process id %s", gebpf_repr (pid));
      size_t nmaps = 0;
      struct mapping *maps = read_maps (scm_to_int (pid), &nmaps);
      SCM out = SCM_BOOL_F;
      s = user_sym (maps, nmaps, a, &off);
      if (s)
        out = scm_cons (scm_from_utf8_string (s->name),
                        scm_from_uint64 (off));
      for (size_t i = 0; i < nmaps; i++)
        free (maps[i].path);
      free (maps);
      return out;
    }
  return s ? scm_cons (scm_from_utf8_string (s->name), scm_from_uint64 (off))
    : SCM_BOOL_F;
}
#undef FUNC_NAME

void
gebpf_init_symbols (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "symbols.x"
#endif
}
