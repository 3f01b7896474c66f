/* types-core.c --- pass 3: the types of CO-RE reads from kernel BTF.

   Types (core-read PTR FIELD ...) by walking vmlinux BTF from the
   pointer's struct through each named field (anonymous members
   included), and remembers every member it steps through so the emitter
   declares only those.  Separate from types.c because it is the one
   part of the type pass that reads kernel BTF (the target descriptor's,
   from the kernel model) rather than the program's own declarations.  */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "lower.h"

/* ---- tracing helpers ---------------------------------------------- */

static int
btf_skip_mods (const struct btf *b, int id)
{
  const struct btf_type *t = btf__type_by_id (b, id);
  while (t && (btf_is_typedef (t) || btf_is_mod (t)))
    {
      id = t->type;
      t = btf__type_by_id (b, id);
    }
  return id;
}

static void
core_note (struct lower *L, int id, const char *name)
{
  SCM key = scm_cons (scm_from_int (id), scm_from_utf8_string (name));
  if (scm_is_false (scm_member (key, L->core_members)))
    L->core_members = scm_cons (key, L->core_members);
}

/* The type id of member NAME of struct or union ID, looking into its
   anonymous members too (mm_struct's exe_file sits in one); every step
   is remembered so the emitter declares it: (ID . NAME), or
   (ID . "#anonJ") for the J-th, anonymous, member.  -1 if none.  */
static int
core_find_member (struct lower *L, const struct btf *b, int id,
                  const char *name, int depth)
{
  const struct btf_type *t = btf__type_by_id (b, id);
  if (!t || !(btf_is_struct (t) || btf_is_union (t)) || depth > 8)
    return -1;
  const struct btf_member *m = btf_members (t);
  for (int j = 0; j < btf_vlen (t); j++)
    if (strcmp (btf__name_by_offset (b, m[j].name_off), name) == 0)
      {
        core_note (L, id, name);
        return m[j].type;
      }
  for (int j = 0; j < btf_vlen (t); j++)
    if (!*btf__name_by_offset (b, m[j].name_off))
      {
        int r = core_find_member (L, b, btf_skip_mods (b, m[j].type), name,
                                  depth + 1);
        if (r >= 0)
          {
            char anon[32];
            snprintf (anon, sizeof anon, "#anon%d", j);
            core_note (L, id, anon);
            return r;
          }
      }
  return -1;
}

/* The BTF id (modifiers and typedefs skipped) of argument POS of L's
   BTF-typed target (tp-btf, raw-tracepoint, fentry, fexit, lsm), or 0
   when the target or position is not in BTF.  */
static int
arg_btf_type (struct lower *L, long pos)
{
  const struct btf *b = L->tgt.btf;
  const char *tgt = L->target;
  if (!b || !tgt || pos < 0 || strpbrk (tgt, ",*?[:/"))
    return 0;
  char name[320];
  int skip = 0, proto;
  if (L->kind == PK_TP_BTF || L->kind == PK_RAW_TRACEPOINT)
    {
      /* btf_trace_NAME: a pointer to the prototype of the tracepoint's
         probe, whose first parameter is the probe's own data.  */
      snprintf (name, sizeof name, "btf_trace_%s", tgt);
      int id = btf__find_by_name_kind (b, name, BTF_KIND_TYPEDEF);
      const struct btf_type *t = id > 0 ? btf__type_by_id (b, id) : NULL;
      t = t ? btf__type_by_id (b, t->type) : NULL;
      if (!t || !btf_is_ptr (t))
        return 0;
      proto = t->type;
      skip = 1;
    }
  else if (L->kind == PK_FENTRY || L->kind == PK_FEXIT || L->kind == PK_LSM)
    {
      snprintf (name, sizeof name, "%s%s", L->kind == PK_LSM ? "bpf_lsm_"
                : "", tgt);
      int id = btf__find_by_name_kind (b, name, BTF_KIND_FUNC);
      const struct btf_type *t = id > 0 ? btf__type_by_id (b, id) : NULL;
      if (!t)
        return 0;
      proto = t->type;
    }
  else
    return 0;
  const struct btf_type *p = btf__type_by_id (b, proto);
  if (!p || !btf_is_func_proto (p) || pos + skip >= btf_vlen (p))
    return 0;
  return btf_skip_mods (b, btf_params (p)[pos + skip].type);
}

int
gebpf_arg_btf_struct (struct lower *L, long pos)
{
  int at = arg_btf_type (L, pos);
  const struct btf *b = L->tgt.btf;
  const struct btf_type *pt = at > 0 ? btf__type_by_id (b, at) : NULL;
  if (!pt || !btf_is_ptr (pt))
    return 0;
  int sid = btf_skip_mods (b, pt->type);
  const struct btf_type *st = btf__type_by_id (b, sid);
  return st && (btf_is_struct (st) || btf_is_union (st)) ? sid : 0;
}

int
gebpf_arg_btf_int (struct lower *L, long pos, bool *is_signed)
{
  int at = arg_btf_type (L, pos);
  const struct btf_type *t = at > 0 ? btf__type_by_id (L->tgt.btf, at) : NULL;
  *is_signed = false;
  if (!t || t->size < 1 || t->size > 8)
    return 0;
  if (btf_is_int (t))
    *is_signed = (btf_int_encoding (t) & BTF_INT_SIGNED) != 0;
  else if (btf_is_any_enum (t))
    /* An enum is its underlying integer; BTF marks a signed one with
       kflag.  */
    *is_signed = btf_kflag (t);
  else
    return 0;
  return t->size;
}

void
gebpf_type_core_read (struct lower *L, struct node *n)
{
  struct node *p = n->kid[0];
  /* An argument of a BTF-typed program that points at a struct (tp-btf
     sched_wakeup's task_struct *p): an integer that knows its type.  */
  if (p->ty == TY_INT && p->btf_id > 0)
    p->ty = TY_KPTR;
  if (p->ty == TY_KPTR && !p->btf_id)
    gebpf_lower_error (L, p, "core-read through a field whose BTF type is "
                       "a struct pointer; for a void pointer, read it with "
                       "read-kernel and a defbpf-struct type",
                       "core-read needs a pointer to a struct, and this "
                       "kernel pointer's type is unknown (void *)");
  if (p->ty != TY_KPTR)
    gebpf_lower_error (L, p, p->ty == TY_INT
                       ? "for a user-space pointer use (read-user PTR TYPE); "
                       "for the address of a kernel struct say which one, "
                       "(core-cast PTR 'sock), or start from (current-task) "
                       "or another core-read of a pointer field"
                       : "start from (current-task) or another core-read "
                       "of a pointer field",
                       "core-read needs a typed kernel pointer, got %s",
                       gebpf_tyname (p->ty));
  const struct btf *b = L->tgt.btf;
  if (!b)
    /* Only a kind that reads no kernel types gets here (current-task
       needs BTF otherwise): the bounds pass's message.  */
    gebpf_lower_error (L, n, "use kernel memory reads in tracing programs",
                       "core-read is not available in %s programs",
                       gebpf_sym_name (gebpf_prog_kinds, L->kind));
  int id = p->btf_id;
  L->uses_vmlinux = true;
  for (int i = 1; i < n->nkid; i++)
    {
      const struct btf_type *t = btf__type_by_id (b, btf_skip_mods (b, id));
      if (!t || !(btf_is_struct (t) || btf_is_union (t)))
        gebpf_lower_error (L, n->kid[i], "read fields of structs only",
                           "core-read: %s is not reached through a struct",
                           n->kid[i]->name);
      int mtype = -1;
      const char *names = n->kid[i]->name;
      if (strchr (names, '|'))
        {
          /* '(nr_queued nr_running): the first name this kernel has;
             the node keeps it, so the emitter reads that member.  */
          for (const char *s = names; *s && mtype < 0;)
            {
              size_t len = strcspn (s, "|");
              char *one = scm_gc_strndup (s, len, "core field");
              mtype = core_find_member (L, b, btf_skip_mods (b, id), one, 0);
              if (mtype >= 0)
                n->kid[i]->name = one;
              s += len + (s[len] == '|');
            }
          if (mtype < 0)
            gebpf_lower_error (L, n->kid[i], "check the field names against "
                               "the kernel's BTF (bpftool btf dump)",
                               "struct %s has none of the fields %s",
                               btf__name_by_offset (b, t->name_off), names);
        }
      else
        mtype = core_find_member (L, b, btf_skip_mods (b, id), names, 0);
      if (mtype < 0)
        gebpf_lower_error (L, n->kid[i], "check the field name against "
                           "the kernel's BTF (bpftool btf dump); a field "
                           "renamed between kernels is written as the list "
                           "of its names, '(nr_queued nr_running)",
                           "struct %s has no field %s",
                           btf__name_by_offset (b, t->name_off), names);
      int mid = btf_skip_mods (b, mtype);
      const struct btf_type *mt = btf__type_by_id (b, mid);
      if (i < n->nkid - 1)
        {
          if (!mt || !btf_is_ptr (mt))
            {
              if (mt && (btf_is_struct (mt) || btf_is_union (mt)))
                {
                  id = mid;     /* embedded struct: keep walking */
                  n->kid[i]->uneg = true;   /* emitted as FIELD.NEXT */
                  continue;
                }
              gebpf_lower_error (L, n->kid[i + 1], "stop at a pointer or "
                                 "integer field", "core-read: field %s is "
                                 "not a pointer", n->kid[i]->name);
            }
          id = mt->type;
          continue;
        }
      /* The last field gives the result type.  */
      if (mt && btf_is_ptr (mt))
        {
          n->ty = TY_KPTR;
          n->btf_id = btf_skip_mods (b, mt->type);
        }
      else if (mt && btf_is_array (mt))
        {
          const struct btf_array *a = btf_array (mt);
          n->ty = TY_VALUE;
          n->vt = gebpf_type_parse (scm_list_2 (scm_from_utf8_symbol ("string"),
                                                scm_from_uint32 (a->nelems)),
                                    "bpf-fn", "core-read array");
          n->field = 1;         /* read as a string */
        }
      else if (mt && (btf_is_int (mt) || btf_is_enum (mt)))
        {
          n->ty = TY_INT;
          n->is_signed = btf_is_int (mt)
            && (btf_int_encoding (mt) & BTF_INT_SIGNED);
        }
      else
        gebpf_lower_error (L, n->kid[i], "read integer, pointer or char "
                           "array fields", "core-read: field %s has an "
                           "unsupported type", n->kid[i]->name);
    }
}
