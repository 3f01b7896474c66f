/* target.c --- the target descriptor: what the lowering passes know of
   the running kernel.

   The driver (fn.c) fills it before the passes run, from the kernel
   model (../kernel/kernel.h): the formats of the tracepoints a
   tracepoint program's target names, and, once the body is resolved,
   the vmlinux BTF if the body reads kernel types (loading it costs tens
   of milliseconds, most of a one-liner's lowering).  This file only
   chooses what to take; reading and parsing are the model's.  The
   passes read only the descriptor, so a test can lower against a format
   written by hand.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lower.h"

#define MAX_TP 256

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

/* "cat:name" order: the order deploy-attach.scm's tracepoints-matching
   gives a glob's matches, which attaches them with cookies 0, 1 ...; a
   field at different offsets is read by that index (bounds.c).  */
static int
tp_order (const void *a, const void *b)
{
  const struct tp_format *x = a, *y = b;
  char s[256], t[256];
  snprintf (s, sizeof s, "%s:%s", x->cat, x->name);
  snprintf (t, sizeof t, "%s:%s", y->cat, y->name);
  return strcmp (s, t);
}

/* Every tracepoint of TARGET, a list "A,B,..." (the program's #:attach
   list), each a name or a glob, with its format, from the kernel model.
   A target matching nothing leaves no tracepoint at all, so bounds
   reports it.  */
static void
read_tracepoints (struct gebpf_target *T, const char *target)
{
  T->ntp = 0;
  T->tp = scm_gc_malloc (sizeof *T->tp * MAX_TP, "tp-formats");
  char *list = strdupa (target);
  for (char *save = NULL, *t = strtok_r (list, ",", &save); t;
       t = strtok_r (NULL, ",", &save))
    {
      char cat[128], name[256];
      int n = split_target (t, cat, sizeof cat, name, sizeof name)
        ? gebpf_tp_formats_matching (cat, name, T->tp + T->ntp,
                                     MAX_TP - T->ntp)
        : 0;
      if (n == 0)
        {
          T->ntp = 0;
          return;
        }
      qsort (T->tp + T->ntp, n, sizeof *T->tp, tp_order);
      T->ntp += n;
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
  T->ntp = 1;
  T->tp = scm_gc_malloc (sizeof *T->tp, "tp-formats");
  snprintf (T->tp->cat, sizeof T->tp->cat, "%.63s", cat);
  snprintf (T->tp->name, sizeof T->tp->name, "%.127s", name);
  size_t len;
  char *s = scm_to_utf8_stringn (text, &len);
  gebpf_tp_format_parse (s, len, T->tp);
  free (s);
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
    case OP_CORE_CAST:
    case OP_INLINE_CALL:
      return true;
    case OP_RETVAL:
      if (L->kind == PK_FEXIT)
        return true;
      break;
    case OP_ARG:
      /* A BTF-typed target's arguments take their type from BTF.  */
      if (L->kind == PK_TP_BTF || L->kind == PK_RAW_TRACEPOINT
          || L->kind == PK_FENTRY || L->kind == PK_FEXIT || L->kind == PK_LSM)
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
gebpf_target_fill_btf (struct lower *L, bool any_body)
{
  /* Only tracing and LSM programs read kernel types, and of those only
     a body that reaches them pays for loading vmlinux BTF.  A tree given
     by hand (ANY_BODY) may hold BTF ids before any pass has run: it
     takes BTF whatever it reads.  */
  if ((gebpf_kind_is_tracing (L->kind) || L->kind == PK_LSM)
      && (any_body || reads_kernel_types (L, L->body)))
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
