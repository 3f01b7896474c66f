/* util.c --- small shared helpers: enumerations, identifiers, CPUs, bpffs,
   docstrings.  (Facts about the running kernel are the kernel model's:
   kernel/.)  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include "gebpf.h"

SCM
gebpf_enum_symbol (SCM v)
{
  if (scm_is_keyword (v))
    return scm_keyword_to_symbol (v);
  if (scm_is_string (v))
    v = scm_string_to_symbol (v);
  if (scm_is_symbol (v))
    {
      SCM str = scm_symbol_to_string (v);
      if (scm_c_string_length (str) > 1
          && scm_is_eq (scm_c_string_ref (str, 0), SCM_MAKE_CHAR (':')))
        return scm_string_to_symbol (scm_substring (str, scm_from_int (1),
                                                    SCM_UNDEFINED));
      return v;
    }
  return SCM_BOOL_F;
}

/* Compare names with '-' and '_' as one character.  */
static bool
name_eq (const char *a, const char *b)
{
  for (; *a && *b; a++, b++)
    {
      char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
      if (x != y)
        return false;
    }
  return *a == *b;
}

long
gebpf_sym_lookup (const struct gebpf_sym *table, SCM v, const char *subr,
                  const char *what)
{
  SCM sym = gebpf_enum_symbol (v);
  if (scm_is_symbol (sym))
    {
      char *name = scm_to_utf8_string (scm_symbol_to_string (sym));
      for (const struct gebpf_sym *e = table; e->name; e++)
        if (name_eq (e->name, name))
          {
            free (name);
            return e->value;
          }
      free (name);
    }
  /* List the known names in the hint.  */
  size_t len = 1;
  for (const struct gebpf_sym *e = table; e->name; e++)
    len += strlen (e->name) + 1;
  char *known = scm_gc_malloc_pointerless (len, "gebpf-known");
  known[0] = 0;
  for (const struct gebpf_sym *e = table; e->name; e++)
    {
      if (e != table)
        strcat (known, " ");
      strcat (known, e->name);
    }
  char fix[4096];
  snprintf (fix, sizeof fix, "use one of: %s", known);
  gebpf_error (gebpf_k_validation, subr, 0, fix, "unknown %s %s", what,
               gebpf_repr (v));
}

const char *
gebpf_sym_name (const struct gebpf_sym *table, long value)
{
  for (const struct gebpf_sym *e = table; e->name; e++)
    if (e->value == value)
      return e->name;
  return "?";
}

char *
gebpf_c_ident (SCM name, const char *subr, const char *what)
{
  SCM str;
  if (scm_is_string (name))
    str = name;
  else if (scm_is_symbol (name))
    str = scm_symbol_to_string (name);
  else if (scm_is_keyword (name))
    str = scm_symbol_to_string (scm_keyword_to_symbol (name));
  else
    gebpf_error (gebpf_k_validation, subr, 0,
                 "give the name as a string or a symbol",
                 "%s must be a string or symbol, not %s", what,
                 gebpf_repr (name));
  char *c = scm_to_utf8_string (str);
  bool ok = c[0] != 0 && strlen (c) <= 64;
  for (char *p = c; *p && ok; p++)
    {
      if (*p == '-')
        *p = '_';
      bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
        || *p == '_';
      bool digit = *p >= '0' && *p <= '9';
      if (!(alpha || (digit && p != c)))
        ok = false;
    }
  if (!ok)
    {
      free (c);
      gebpf_error (gebpf_k_validation, subr, 0,
                   "use letters, digits, '-' and '_' only, starting with a "
                   "letter, at most 64 characters",
                   "%s %s is not a valid identifier", what, gebpf_repr (str));
    }
  return c;
}

const char *
gebpf_str (SCM str)
{
  char *c = scm_to_utf8_string (str);
  char *g = scm_gc_strdup (c, "gebpf-str");
  free (c);
  return g;
}

const char *
gebpf_sym_str (SCM sym)
{
  return gebpf_str (scm_symbol_to_string (sym));
}

int
gebpf_next_kernel_object (int (*next) (uint32_t, uint32_t *),
                          int (*get_fd) (uint32_t), uint32_t *id, SCM key,
                          const char *subr, const char *what)
{
  for (;;)
    {
      if (next (*id, id) < 0)
        {
          if (errno == ENOENT)
            return -1;
          gebpf_syscall_error (key, subr, errno, what, "see the errno above");
        }
      int fd = get_fd (*id);
      if (fd >= 0)
        return fd;
      /* Gone between the two calls: on to the next one.  */
    }
}

int
gebpf_nr_cpus (void)
{
  static int n;
  if (n <= 0)
    {
      n = libbpf_num_possible_cpus ();
      if (n <= 0)
        n = 1;
    }
  return n;
}

int
gebpf_ensure_bpffs (void)
{
  struct statfs st;
  if (statfs ("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
    return 0;
  mkdir ("/sys/fs/bpf", 0700);
  if (mount ("bpffs", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
    return -errno;
  return 0;
}

SCM
gebpf_document (SCM proc, const char *doc)
{
  scm_set_procedure_property_x (proc, scm_from_utf8_symbol ("documentation"),
                                scm_from_utf8_string (doc));
  return proc;
}
