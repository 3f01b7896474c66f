/* emit-read.c --- emit pass: reads, strings and arguments.

   Values the body reads from outside the program's stack: helper reads
   into a zeroed lvalue (comm, read-*-str, CO-RE fields, tracepoint
   arrays and __data_loc strings), typed user/kernel reads, string tests
   and probe arguments.  Separate from emit.c because it is the one part
   of the emitter that knows how each kind of memory is read.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "emit.h"

/* Values read by a helper (comm, read-*-str, CO-RE strings, tracepoint
   arrays and __data_loc strings) are written straight into LV, already
   zeroed: no copy of a large temporary on the 512-byte BPF stack.
   Return false when N is not such a read into a T.  */
static bool
read_into (struct emit *E, struct buf *b, const struct gebpf_type *t,
           const char *lv, struct node *n)
{
  bool str = t->kind == GT_STRING;
  switch (n->op)
    {
    case OP_COMM:
      if (n->vt != t)
        return false;
      bf (b, "bpf_get_current_comm (&%s, sizeof %s); ", lv, lv);
      return true;
    case OP_ARG:
      {
      /* u8 saddr_v6[16] fills an ipv6 as it is: both are 16 bytes in
         network order.  */
      bool same = n->vt == t || (t->kind == GT_IPV6 && n->ival == 16);
      if (n->slot == 1 && same)
        gebpf_emit_gpl_only (E, n, "bpf_probe_read_kernel");
      else if (n->slot == 2 && str)
        gebpf_emit_gpl_only (E, n, "bpf_probe_read_kernel_str");
      if (n->slot == 1 && same)
        {
          bf (b, "bpf_probe_read_kernel (&%s, sizeof %s, ", lv, lv);
          gebpf_emit_tp_addr (E, b, n);
          bs (b, "); ");
        }
      else if (n->slot == 2 && str)
        {
          /* __data_loc: the low 16 bits are the string's offset in the
             record.  */
          bf (b, "bpf_probe_read_kernel_str (%s.s, sizeof %s.s, (char *)ctx "
              "+ (", lv, lv);
          struct node loc = *n;
          loc.ival = 4;
          loc.is_signed = false;
          gebpf_emit_tp_int (E, b, &loc);
          bs (b, " & 0xffff)); ");
        }
      else
        return false;
      return true;
      }
    case OP_READ_USER_STR:
    case OP_READ_KERNEL_STR:
      if (!str)
        return false;
      gebpf_emit_gpl_only (E, n, n->op == OP_READ_USER_STR ? "bpf_probe_read_user_str"
                : "bpf_probe_read_kernel_str");
      bf (b, "bpf_probe_read_%s_str (%s.s, sizeof %s.s, (const void *)(long)(",
          n->op == OP_READ_USER_STR ? "user" : "kernel", lv, lv);
      gebpf_emit_ex (E, b, n->kid[0]);
      bs (b, ")); ");
      return true;
    case OP_READ_USER:
    case OP_READ_KERNEL:
      {
        if (n->vt != t)
          return false;
        const char *h = n->op == OP_READ_USER ? "bpf_probe_read_user"
          : "bpf_probe_read_kernel";
        gebpf_emit_gpl_only (E, n, h);
        bf (b, "%s (&%s, sizeof %s, (const void *)(long)(", h, lv, lv);
        gebpf_emit_ex (E, b, n->kid[0]);
        bs (b, ")); ");
        return true;
      }
    case OP_CORE_READ:
      if (n->field != 1 || !str)
        return false;
      gebpf_emit_gpl_only (E, n, "bpf_probe_read_kernel_str");
      bf (b, "BPF_CORE_READ_STR_INTO (&%s.s, ((%s)(", lv,
          gebpf_emit_ctype (E, n->kid[0]));
      gebpf_emit_ex (E, b, n->kid[0]);
      bs (b, "))");
      gebpf_emit_ex_core_fields (b, n);
      bs (b, "); ");
      return true;
    default:
      return false;
    }
}

/* The field list of a core-read: ", a, b" -- an embedded struct field
   joined to the next with '.'.  */
void
gebpf_emit_ex_core_fields (struct buf *b, struct node *n)
{
  for (int i = 1; i < n->nkid; i++)
    bf (b, n->kid[i - 1]->uneg && i > 1 ? ".%s" : ", %s", n->kid[i]->name);
}

/* A read value as an expression: a zeroed temporary, read into.  */
void
gebpf_emit_ex_read (struct emit *E, struct buf *b, struct node *n)
{
  char lv[32];
  snprintf (lv, sizeof lv, "__s%d", gebpf_emit_tmp (E));
  bf (b, "({ %s %s; __builtin_memset (&%s, 0, sizeof %s); ", gebpf_emit_tname (E, n->vt),
      lv, lv, lv);
  read_into (E, b, n->vt, lv, n);
  bf (b, "%s; })", lv);
}

void
gebpf_emit_fill (struct emit *E, struct buf *b, const struct gebpf_type *t,
                 const char *lv, struct node *n)
{
  if (read_into (E, b, t, lv, n))
    return;
  if (n->op == OP_MAKE_STRUCT && n->st == t)
    {
      /* Build the struct in place: no copy through a temporary (the BPF
         stack holds 512 bytes).  LV is already zeroed.  */
      for (int i = 0; i < n->nkid; i++)
        if (n->kid[i])
          {
            char flv[256];
            snprintf (flv, sizeof flv, "%s.%s", lv, uid (t->fields[i].cname));
            gebpf_emit_fill (E, b, t->fields[i].type, flv, n->kid[i]);
          }
      return;
    }
  if (t->kind == GT_PREFIX && (n->ty == TY_IPV4 || n->ty == TY_IPV6))
    {
      bf (b, "%s.prefixlen = %d; %s.addr = ", lv,
          t->elem->kind == GT_IPV4 ? 32 : 128, lv);
      gebpf_emit_ex (E, b, n);
      bs (b, "; ");
      return;
    }
  if (t->kind == GT_STRING && n->ty == TY_STR)
    {
      size_t len = strlen (n->name);
      bf (b, "__builtin_memcpy (%s.s, ", lv);
      gebpf_emit_c_string (b, n->name);
      bf (b, ", %zu); ", len + 1 <= t->count ? len + 1 : t->count);
      return;
    }
  if (t->kind == GT_STRING && n->ty == TY_VALUE && n->vt != t)
    {
      int k = gebpf_emit_tmp (E);
      bf (b, "{ __auto_type __s%d = ", k);
      gebpf_emit_ex (E, b, n);
      bf (b, "; __builtin_memcpy (%s.s, __s%d.s, sizeof %s.s < sizeof __s%d.s "
          "? sizeof %s.s : sizeof __s%d.s); } ", lv, k, lv, k, lv, k);
      return;
    }
  if (t->kind == GT_IPV6 && n->ty == TY_VALUE)
    {
      /* A (bytes 16) value: its bytes are the address (types.c).  */
      int k = gebpf_emit_tmp (E);
      bf (b, "{ __auto_type __s%d = ", k);
      gebpf_emit_ex (E, b, n);
      bf (b, "; __builtin_memcpy (&%s, &__s%d, 16); } ", lv, k);
      return;
    }
  bf (b, "%s = ", lv);
  gebpf_emit_ex_to (E, b, t, n);
  bs (b, "; ");
}

/* Declare and fill a zeroed variable of type T named __kN; return N.  */
int
gebpf_emit_materialize (struct emit *E, struct buf *b, const struct gebpf_type *t,
                        struct node *n)
{
  int k = gebpf_emit_tmp (E);
  char lv[32];
  snprintf (lv, sizeof lv, "__k%d", k);
  bf (b, "%s %s; __builtin_memset (&%s, 0, sizeof %s); ", gebpf_emit_tname (E, t), lv,
      lv, lv);
  gebpf_emit_fill (E, b, t, lv, n);
  return k;
}


/* (read-user PTR 'T) / (read-kernel PTR 'T) as a value: a zeroed
   temporary read into (left zero when the read faults), then converted
   as a map value of T would be.  */
void
gebpf_emit_ex_read_typed (struct emit *E, struct buf *b, struct node *n)
{
  char lv[32];
  snprintf (lv, sizeof lv, "__s%d", gebpf_emit_tmp (E));
  bf (b, "({ %s %s; __builtin_memset (&%s, 0, sizeof %s); ", gebpf_emit_tname (E, n->vt),
      lv, lv, lv);
  read_into (E, b, n->vt, lv, n);
  gebpf_emit_ex_from (E, b, n->vt, lv);
  bs (b, "; })");
}

/* One side of a string test: a literal is used in place (its size
   counts the NUL), a local's char array too; anything else is
   evaluated once into a temporary declared in front.  */
static void
str_side (struct emit *E, struct buf *b, struct node *n, char *arr,
          size_t size)
{
  if (n->op == OP_LOCAL)
    snprintf (arr, size, "v%d.s", n->slot);
  else
    {
      /* A read (comm, a tracepoint string, read-user-str ...) goes
         straight into the temporary: no second copy on the stack.  */
      int k = gebpf_emit_tmp (E);
      char lv[32];
      snprintf (lv, sizeof lv, "__t%d", k);
      snprintf (arr, size, "%s.s", lv);
      bf (b, "%s %s; __builtin_memset (&%s, 0, sizeof %s); ",
          gebpf_emit_tname (E, n->vt), lv, lv, lv);
      if (!read_into (E, b, n->vt, lv, n))
        {
          bf (b, "%s = ", lv);
          gebpf_emit_ex (E, b, n);
          bs (b, "; ");
        }
    }
}

void
gebpf_emit_ex_string_test (struct emit *E, struct buf *b, struct node *n)
{
  char a[48], c[48];
  bs (b, "({ ");
  if (n->kid[0]->ty != TY_STR)
    str_side (E, b, n->kid[0], a, sizeof a);
  if (n->kid[1]->ty != TY_STR)
    str_side (E, b, n->kid[1], c, sizeof c);
  bs (b, "gebpf_str_test (");
  for (int i = 0; i < 2; i++)
    {
      struct node *k = n->kid[i];
      if (i)
        bs (b, ", ");
      if (k->ty == TY_STR)
        {
          gebpf_emit_c_string (b, k->name);
          bf (b, ", %zu", strlen (k->name) + 1);
        }
      else
        bf (b, "%s, sizeof %s", i ? c : a, i ? c : a);
    }
  bf (b, ", %d); })", n->op == OP_STRING_PREFIX);
}

void
gebpf_emit_ex_arg (struct emit *E, struct buf *b, struct node *n)
{
  int kind = E->L->kind;
  if (kind == PK_TRACEPOINT && (n->slot == 1 || n->slot == 2))
    {
      gebpf_emit_ex_read (E, b, n);
      return;
    }
  if (kind == PK_TRACEPOINT)
    {
      gebpf_emit_tp_int (E, b, n);
      return;
    }
  long pos = n->kid[1]->ival;
  /* An argument BTF types as a narrower or signed integer (the types
     pass's ival and is_signed): truncated to its size, then widened
     with its sign.  */
  char cast[32] = "";
  if (n->ival > 0 && n->ival < 8)
    snprintf (cast, sizeof cast, "(%s%d)", n->is_signed ? "__s" : "__u",
              (int) n->ival * 8);
  const char *to = n->is_signed ? "__s64" : "__u64";
  switch (kind)
    {
    case PK_RAW_TRACEPOINT:
      bf (b, "((%s)%sctx->args[%ld])", to, cast, pos);
      return;
    case PK_TP_BTF: case PK_FENTRY: case PK_FEXIT: case PK_LSM:
      bf (b, "((%s)%s((__u64 *)ctx)[%ld])", to, cast, pos);
      return;
    default:
      bf (b, "((__u64)PT_REGS_PARM%ld (ctx))", pos + 1);
      return;
    }
}

void
gebpf_emit_tp_addr (struct emit *E, struct buf *b, struct node *n)
{
  if (!scm_is_vector (n->ref))
    {
      bf (b, "((char *)ctx + %d)", n->field);
      return;
    }
  /* A field at different offsets in the tracepoints of a list or glob:
     the attach cookie is the index of the probe that fired, in the
     order target.c sorted them (and deploy-attach.scm attaches).  */
  int k = gebpf_emit_tmp (E);
  bf (b, "((char *)ctx + ({ __u64 __c%d = bpf_get_attach_cookie (ctx); ", k);
  size_t len = scm_c_vector_length (n->ref);
  for (size_t i = 1; i < len; i++)
    bf (b, "__c%d == %zu ? %d : ", k, i,
        scm_to_int (scm_c_vector_ref (n->ref, i)));
  bf (b, "%d; }))", scm_to_int (scm_c_vector_ref (n->ref, 0)));
}

void
gebpf_emit_tp_int (struct emit *E, struct buf *b, struct node *n)
{
  /* bounds.c put the field's offset, size and signedness here.  */
  const char *t = n->ival == 1 ? "8" : n->ival == 2 ? "16"
    : n->ival == 4 ? "32" : "64";
  const char *to = n->is_signed ? "__s64" : "__u64";
  const char *from = n->is_signed ? "__s" : "__u";
  if (!scm_is_vector (n->ref) && n->field % n->ival != 0)
    {
      /* The verifier refuses a context load its size does not divide
         the offset of (tcp_retransmit_skb's u8 saddr[4] at 34): copy
         it out bytewise instead.  */
      int k = gebpf_emit_tmp (E);
      bf (b, "({ %s%s __a%d; __builtin_memcpy (&__a%d, (char *)ctx + %d, "
          "sizeof __a%d); (%s)__a%d; })", from, t, k, k, n->field, k, to, k);
      return;
    }
  if (!scm_is_vector (n->ref))
    {
      bf (b, "((%s)*(%s%s *)((char *)ctx + %d))", to, from, t, n->field);
      return;
    }
  /* The verifier takes only constant offsets into the context: a
     variable one is read through the helper.  */
  gebpf_emit_gpl_only (E, n, "bpf_probe_read_kernel");
  int k = gebpf_emit_tmp (E);
  bf (b, "({ %s%s __a%d = 0; bpf_probe_read_kernel (&__a%d, sizeof __a%d, ",
      from, t, k, k, k);
  gebpf_emit_tp_addr (E, b, n);
  bf (b, "); (%s)__a%d; })", to, k);
}
