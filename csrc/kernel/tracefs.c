/* tracefs.c --- the kernel model: tracefs and the tracepoint formats.

   Where tracefs is mounted (its own mount point, or under debugfs), what
   it offers, and the format of each tracepoint: the fields a tracepoint
   program's context holds, at their offsets and sizes.  The lowering's
   target descriptor (lower/target.c), the attach functions and the
   feature probes read tracefs through these functions alone.  Format
   text given by hand (#:tracepoint-format) is parsed by the same code
   as the files, so a format can be lowered against without tracefs.  */
#define _GNU_SOURCE
#include <config.h>
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include "kernel.h"

#define MAX_FIELDS 64

/* The two places tracefs lives: its own mount point, and under debugfs
   on kernels before 4.1 or systems that mount only debugfs.  */
static const char *const tracefs_dirs[] = {
  "/sys/kernel/tracing", "/sys/kernel/debug/tracing"
};

const char *
gebpf_tracefs (bool mount_it)
{
  for (size_t i = 0; i < sizeof tracefs_dirs / sizeof tracefs_dirs[0]; i++)
    {
      char p[64];
      snprintf (p, sizeof p, "%s/events", tracefs_dirs[i]);
      if (access (p, F_OK) == 0)
        return tracefs_dirs[i];
    }
  if (mount_it
      && mount ("tracefs", tracefs_dirs[0], "tracefs", 0, NULL) == 0
      && access ("/sys/kernel/tracing/events", F_OK) == 0)
    return tracefs_dirs[0];
  return NULL;
}

bool
gebpf_tracefs_has (const char *rel, bool mount_it)
{
  const char *dir = gebpf_tracefs (mount_it);
  char path[512];
  return dir
    && (size_t) snprintf (path, sizeof path, "%s/%s", dir, rel) < sizeof path
    && access (path, F_OK) == 0;
}

static bool
ident_char (char c)
{
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
    || (c >= '0' && c <= '9');
}

/* The type of field NAME declared as DECL ("char comm[16]"): DECL with
   the last whole-word NAME taken out ("char [16]"), trimmed, in OUT
   (cut at SIZE).  */
static void
field_type (const char *decl, const char *name, char *out, size_t size)
{
  size_t len = strlen (name), k = 0;
  const char *at = NULL;
  for (const char *p = decl; len && (p = strstr (p, name)); p++)
    if ((p == decl || !ident_char (p[-1])) && !ident_char (p[len]))
      at = p;
  while (*decl == ' ' || *decl == '\t')
    decl++;
  for (const char *p = decl; *p && k + 1 < size; p++)
    if (at && p == at)
      p += len - 1;
    else
      out[k++] = *p;
  while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\t'))
    k--;
  out[k] = 0;
}

/* Read the fields of a format file from F into OUT; return how many.  */
static int
parse_format (FILE *f, struct tp_field *out, int max)
{
  char line[512];
  int n = 0;
  while (fgets (line, sizeof line, f) && n < max)
    {
      char *fp = strstr (line, "field:");
      if (!fp)
        continue;
      char *semi = strchr (fp, ';');
      if (!semi)
        continue;
      *semi = 0;
      char *decl = fp + 6;
      char whole[sizeof line];
      snprintf (whole, sizeof whole, "%s", decl);
      bool dataloc = strstr (decl, "__data_loc") != NULL;
      bool chars = strstr (decl, "char") != NULL;
      /* The name is the last identifier of the declaration.  */
      char *br = strchr (decl, '[');
      bool array = br != NULL;
      /* Drop every [...] (char comm[16], __data_loc char[] name).  */
      {
        char *w = decl;
        int depth = 0;
        for (char *r = decl; *r; r++)
          {
            if (*r == '[')
              depth++;
            else if (*r == ']')
              depth--;
            else if (!depth)
              *w++ = *r;
          }
        *w = 0;
      }
      char *end = decl + strlen (decl);
      while (end > decl && (end[-1] == ' '))
        *--end = 0;
      char *start = end;
      while (start > decl && (start[-1] == '_' || (start[-1] >= 'a'
                                                    && start[-1] <= 'z')
                              || (start[-1] >= 'A' && start[-1] <= 'Z')
                              || (start[-1] >= '0' && start[-1] <= '9')))
        start--;
      struct tp_field *t = &out[n];
      snprintf (t->name, sizeof t->name, "%s", start);
      field_type (whole, t->name, t->type, sizeof t->type);
      t->pointer = strchr (decl, '*') != NULL;
      t->array = array && !dataloc;
      t->chars = chars;
      t->dataloc = dataloc;
      char *o = strstr (semi + 1, "offset:"), *s = strstr (semi + 1, "size:"),
        *g = strstr (semi + 1, "signed:");
      if (!o || !s)
        continue;
      t->offset = atoi (o + 7);
      t->size = atoi (s + 5);
      t->is_signed = g ? atoi (g + 7) : 0;
      if (strncmp (t->name, "common_", 7) == 0)
        continue;
      n++;
    }
  return n;
}

/* The fields of F into TP (GC memory).  */
static int
read_fields (FILE *f, struct tp_format *tp)
{
  struct tp_field fs[MAX_FIELDS];
  int nf = f ? parse_format (f, fs, MAX_FIELDS) : 0;
  tp->nfields = nf;
  tp->fields = scm_gc_malloc_pointerless (sizeof *fs * (nf + 1),
                                          "tp-fields");
  if (nf > 0)
    memcpy (tp->fields, fs, sizeof *fs * nf);
  return nf;
}

int
gebpf_tp_format_parse (const char *text, size_t len, struct tp_format *tp)
{
  /* fmemopen refuses an empty buffer; a NUL reads as no fields.  */
  FILE *f = fmemopen ((void *) (len ? text : ""), len ? len : 1, "r");
  int nf = read_fields (f, tp);
  if (f)
    fclose (f);
  return nf;
}

/* Whether S can name one entry of a tracefs directory.  */
static bool
component_ok (const char *s)
{
  return *s && !strchr (s, '/') && strcmp (s, ".") != 0
    && strcmp (s, "..") != 0;
}

bool
gebpf_tp_format_read (const char *cat, const char *name,
                      struct tp_format *tp)
{
  const char *tf = gebpf_tracefs (false);
  if (!tf || !component_ok (cat) || !component_ok (name))
    return false;
  char path[1024];
  if ((size_t) snprintf (path, sizeof path, "%s/events/%s/%s/format", tf,
                         cat, name) >= sizeof path)
    return false;
  FILE *f = fopen (path, "re");
  if (!f)
    return false;
  snprintf (tp->cat, sizeof tp->cat, "%.63s", cat);
  snprintf (tp->name, sizeof tp->name, "%.127s", name);
  read_fields (f, tp);
  fclose (f);
  return true;
}

int
gebpf_tp_formats_matching (const char *cat, const char *name,
                           struct tp_format *out, int max)
{
  const char *tf = gebpf_tracefs (false);
  if (!tf)
    return 0;
  char dir[512];
  snprintf (dir, sizeof dir, "%s/events", tf);
  DIR *d = opendir (dir);
  if (!d)
    return 0;
  int n = 0;
  struct dirent *c;
  while ((c = readdir (d)) && n < max)
    {
      if (c->d_name[0] == '.' || fnmatch (cat, c->d_name, 0) != 0)
        continue;
      char sub[768];
      snprintf (sub, sizeof sub, "%s/%s", dir, c->d_name);
      DIR *e = opendir (sub);
      if (!e)
        continue;
      struct dirent *t;
      while ((t = readdir (e)) && n < max)
        {
          if (t->d_name[0] == '.' || fnmatch (name, t->d_name, 0) != 0)
            continue;
          if (gebpf_tp_format_read (c->d_name, t->d_name, &out[n]))
            n++;
        }
      closedir (e);
    }
  closedir (d);
  return n;
}

#define FUNC_NAME s_scm_bpf_tracepoint_format
SCM_DEFINE_STATIC (scm_bpf_tracepoint_format, "%bpf-tracepoint-format",
                   2, 0, 0, (SCM category, SCM name),
                   "Return the fields of tracepoint @var{category}/@var{name} "
                   "as its tracefs format file describes them, @code{common_} "
                   "ones left out, each an alist with @code{name}, "
                   "@code{type} (the declaration without the name), "
                   "@code{offset}, @code{size} and @code{signed?}; or "
                   "@code{#f} when tracefs is not mounted or there is no "
                   "such tracepoint.")
{
  SCM_VALIDATE_STRING (1, category);
  SCM_VALIDATE_STRING (2, name);
  scm_dynwind_begin (0);
  char *c = scm_to_utf8_string (category), *n = scm_to_utf8_string (name);
  scm_dynwind_free (c);
  scm_dynwind_free (n);
  struct tp_format tp;
  SCM out = SCM_BOOL_F;
  if (gebpf_tp_format_read (c, n, &tp))
    {
      out = SCM_EOL;
      for (int i = tp.nfields; i-- > 0;)
        {
          const struct tp_field *f = &tp.fields[i];
          out = scm_cons (scm_list_5
                          (scm_cons (scm_from_utf8_symbol ("name"),
                                     scm_from_utf8_string (f->name)),
                           scm_cons (scm_from_utf8_symbol ("type"),
                                     scm_from_utf8_string (f->type)),
                           scm_cons (scm_from_utf8_symbol ("offset"),
                                     scm_from_int (f->offset)),
                           scm_cons (scm_from_utf8_symbol ("size"),
                                     scm_from_int (f->size)),
                           scm_cons (scm_from_utf8_symbol ("signed?"),
                                     scm_from_bool (f->is_signed))), out);
        }
    }
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

SCM_DEFINE_STATIC (scm_bpf_tracefs, "%bpf-tracefs", 0, 1, 0,
                   (SCM mount),
                   "Return the directory where tracefs is mounted "
                   "(@file{/sys/kernel/tracing} or "
                   "@file{/sys/kernel/debug/tracing}), or @code{#f}.  When "
                   "@var{mount} is true and neither is, mount tracefs at "
                   "@file{/sys/kernel/tracing} first (which needs root).")
#define FUNC_NAME s_scm_bpf_tracefs
{
  const char *d = gebpf_tracefs (!SCM_UNBNDP (mount) && scm_is_true (mount));
  return d ? scm_from_utf8_string (d) : SCM_BOOL_F;
}
#undef FUNC_NAME

void
gebpf_init_tracefs (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "tracefs.x"
#endif
}
