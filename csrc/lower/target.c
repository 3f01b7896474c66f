/* target.c --- the target descriptor: what the lowering passes know of
   the running kernel.

   The driver (fn.c) fills it before the passes run: the formats of the
   tracepoints a tracepoint program's target names (from tracefs), and,
   once the body is resolved, the vmlinux BTF if the body reads kernel
   types (loading it costs tens of milliseconds, most of a one-liner's
   lowering).  The passes read only the descriptor, so a test can lower
   against a format written by hand.  */
#define _GNU_SOURCE
#include <config.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lower.h"

#define MAX_TP 256
#define MAX_FIELDS 64

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

/* Keep the NF fields of FS in TP (GC memory).  */
static void
keep_fields (struct tp_format *tp, const struct tp_field *fs, int nf)
{
  tp->nfields = nf > 0 ? nf : 0;
  tp->fields = scm_gc_malloc_pointerless (sizeof *fs * (tp->nfields + 1),
                                          "tp-fields");
  if (nf > 0)
    memcpy (tp->fields, fs, sizeof *fs * nf);
}

/* Split TARGET ("cat/name" or "cat:name", globs allowed).  */
static bool
split_target (const char *target, char *cat, size_t ncat, char *name,
              size_t nname)
{
  const char *sep = strpbrk (target, ":/");
  if (!sep)
    return false;
  snprintf (cat, ncat, "%.*s", (int) (sep - target), target);
  snprintf (name, nname, "%s", sep + 1);
  return true;
}

/* Every tracepoint matching TARGET (one name or glob), with its format
   read, appended to T; return how many.  */
static int
read_tracepoints_one (struct gebpf_target *T, const char *target)
{
  char cat[128], name[256];
  int before = T->ntp;
  if (!split_target (target, cat, sizeof cat, name, sizeof name))
    return 0;
  const char *tf = gebpf_tracefs (false);
  if (!tf)
    return 0;
  char dir[512];
  snprintf (dir, sizeof dir, "%s/events", tf);
  DIR *d = opendir (dir);
  if (!d)
    return 0;
  struct dirent *c;
  while ((c = readdir (d)) && T->ntp < MAX_TP)
    {
      if (c->d_name[0] == '.' || fnmatch (cat, c->d_name, 0) != 0)
        continue;
      char sub[768];
      snprintf (sub, sizeof sub, "%s/%s", dir, c->d_name);
      DIR *e = opendir (sub);
      if (!e)
        continue;
      struct dirent *t;
      while ((t = readdir (e)) && T->ntp < MAX_TP)
        {
          if (t->d_name[0] == '.' || fnmatch (name, t->d_name, 0) != 0)
            continue;
          char fmt[2048];
          snprintf (fmt, sizeof fmt, "%s/%s/format", sub, t->d_name);
          FILE *f = fopen (fmt, "re");
          if (!f)
            continue;
          struct tp_field fs[MAX_FIELDS];
          int nf = parse_format (f, fs, MAX_FIELDS);
          fclose (f);
          struct tp_format *tp = &T->tp[T->ntp++];
          snprintf (tp->cat, sizeof tp->cat, "%.63s", c->d_name);
          snprintf (tp->name, sizeof tp->name, "%.127s", t->d_name);
          keep_fields (tp, fs, nf);
        }
      closedir (e);
    }
  closedir (d);
  return T->ntp - before;
}

/* Every tracepoint of TARGET, a list "A,B,..." (the program's #:attach
   list), each a name or a glob.  A target matching nothing leaves no
   tracepoint at all, so bounds reports it.  */
static void
read_tracepoints (struct gebpf_target *T, const char *target)
{
  T->ntp = 0;
  T->tp = scm_gc_malloc (sizeof *T->tp * MAX_TP, "tp-formats");
  char *list = strdupa (target);
  for (char *save = NULL, *t = strtok_r (list, ",", &save); t;
       t = strtok_r (NULL, ",", &save))
    if (read_tracepoints_one (T, t) == 0)
      {
        T->ntp = 0;
        return;
      }
}

/* The one tracepoint TARGET names, its format given as TEXT.  */
static void
given_tracepoint (struct lower *L, SCM text)
{
  struct gebpf_target *T = &L->tgt;
  char cat[128] = "", name[256] = "";
  if (L->target)
    split_target (L->target, cat, sizeof cat, name, sizeof name);
  size_t len;
  char *s = scm_to_utf8_stringn (text, &len);
  FILE *f = fmemopen (s, len ? len : 1, "r");
  struct tp_field fs[MAX_FIELDS];
  int nf = f ? parse_format (f, fs, MAX_FIELDS) : 0;
  if (f)
    fclose (f);
  free (s);
  T->ntp = 1;
  T->tp = scm_gc_malloc (sizeof *T->tp, "tp-formats");
  snprintf (T->tp->cat, sizeof T->tp->cat, "%.63s", cat);
  snprintf (T->tp->name, sizeof T->tp->name, "%.127s", name);
  keep_fields (T->tp, fs, nf);
}

void
gebpf_target_fill (struct lower *L, SCM format)
{
  struct gebpf_target *T = &L->tgt;
  memset (T, 0, sizeof *T);
  if (L->kind == PK_TRACEPOINT && scm_is_string (format))
    {
      given_tracepoint (L, format);
      T->tp_known = true;
    }
  else if (L->kind == PK_TRACEPOINT && L->target)
    {
      read_tracepoints (T, L->target);
      T->tp_known = true;
    }
}

/* Whether resolved body N reaches vmlinux BTF in a later pass: every
   use of the descriptor's btf starts at one of these.  current-task
   and core-read give typed kernel pointers (types, emit); an fexit
   program's retval is placed after the function's arguments, counted
   in BTF (bounds).  An inline's body is resolved only when the types
   pass meets the call, so any inline call counts.  */
static bool
reads_kernel_types (const struct lower *L, const struct node *n)
{
  if (!n)
    return false;
  switch (n->op)
    {
    case OP_CURRENT_TASK:
    case OP_CORE_READ:
    case OP_INLINE_CALL:
      return true;
    case OP_RETVAL:
      if (L->kind == PK_FEXIT)
        return true;
      break;
    default:
      break;
    }
  for (int i = 0; i < n->nkid; i++)
    if (reads_kernel_types (L, n->kid[i]))
      return true;
  return false;
}

static atomic_ulong btf_fills;

void
gebpf_target_fill_btf (struct lower *L)
{
  /* Only tracing and LSM programs read kernel types, and of those only
     a body that reaches them pays for loading vmlinux BTF.  */
  if ((gebpf_kind_is_tracing (L->kind) || L->kind == PK_LSM)
      && reads_kernel_types (L, L->body))
    {
      L->tgt.btf = gebpf_vmlinux_btf ();
      btf_fills++;
    }
}

unsigned long
gebpf_target_btf_fills (void)
{
  return btf_fills;
}
