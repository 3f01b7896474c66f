/* emit.c --- pass 5: the AST to BPF C.

   Takes: the typed, kind-checked AST.  Gives: C text that reads like good
   libbpf code -- SPDX line, the kernel and libbpf headers, bpf/gebpf.h,
   the value types, BTF-defined maps in SEC(".maps"), const volatile
   rodata for (const NAME), the inlines as static __always_inline
   functions, the program in its SEC(), and the license -- plus a line map
   for rewriting the verifier's annotated log.

   Every body form becomes a C expression (GNU statement expressions
   where a form needs statements), preceded by a comment naming the form
   and a #line directive pointing at its .scm line, so clang diagnostics
   name Scheme lines.  The output is deterministic: names come from slots
   and counters local to this lowering, #line carries the file's base
   name only.

   This file holds the driver (gebpf_emit) and the body's expressions;
   reads are in emit-read.c, packet forms in emit-packet.c, map forms in
   emit-map.c, value types and the declarations around the body in
   emit-decl.c (shared: emit.h).  */
#define _GNU_SOURCE
#include <config.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "emit.h"

/* ---- helpers ---------------------------------------------------------- */

int
gebpf_emit_tmp (struct emit *E)
{
  return E->tmp++;
}

static const char *
base_name (SCM file)
{
  if (!scm_is_string (file))
    return NULL;
  const char *f = gebpf_str (file);
  const char *s = strrchr (f, '/');
  return s ? s + 1 : f;
}

/* A one-line rendering of a form for comments and the line map.  */
static char *
form_text (struct node *n, size_t max)
{
  if (scm_is_false (n->datum))
    return scm_gc_strdup ("", "t");
  char *s = gebpf_repr_n (n->datum, max);
  size_t len = strlen (s);
  char *out = scm_gc_malloc_pointerless (max + 8, "t");
  size_t j = 0;
  for (size_t i = 0; i < len && j < max; i++)
    {
      char c = s[i];
      if (c == '\n' || c == '\t')
        c = ' ';
      /* Never close the comment early, nor open one inside it.  */
      if (c == '*' && (s[i + 1] == '/' || (i > 0 && s[i - 1] == '/')))
        c = '+';
      out[j++] = c;
    }
  if (len > max)
    {
      memcpy (out + j, " ...", 4);
      j += 4;
    }
  out[j] = 0;
  return out;
}


static void
line_directive (struct emit *E, struct buf *b, struct node *n)
{
  const char *f = base_name (n->file);
  if (!n->line || !f)
    return;
  /* The file name is the user's: escaped, so that no quote or newline in
     it can end the directive and start C of its own.  */
  bf (b, "\n\t/* %s */\n#line %d ", form_text (n, 72), n->line);
  gebpf_emit_c_string (b, f);
  bs (b, "\n");
  if (scm_is_false (scm_assv_ref (E->linemap, scm_from_int (n->line))))
    {
      char *s = NULL;
      if (asprintf (&s, "%s @ %s:%d", form_text (n, 60), f, n->line) >= 0)
        {
          E->linemap = scm_acons (scm_from_int (n->line),
                                  scm_from_utf8_string (s), E->linemap);
          free (s);
        }
    }
}

void
gebpf_emit_c_string (struct buf *b, const char *s)
{
  bs (b, "\"");
  for (; *s; s++)
    {
      unsigned char c = *s;
      /* '?' too: "??/" must never become a backslash, whatever the
         dialect's trigraph setting.  */
      if (c == '"' || c == '\\' || c == '?')
        bf (b, "\\%c", c);
      else if (c == '\n')
        bs (b, "\\n");
      else if (c == '\t')
        bs (b, "\\t");
      else if (c < 32 || c >= 127)
        bf (b, "\\%03o", c);
      else
        bput (b, (const char *) &c, 1);
    }
  bs (b, "\"");
}

/* The kernel's license_is_gpl_compatible.  */
static bool
gpl_compatible (const char *lic)
{
  static const char *const ok[] = {
    "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
    "Dual MIT/GPL", "Dual MPL/GPL", NULL
  };
  for (const char *const *p = ok; *p; p++)
    if (strcmp (lic, *p) == 0)
      return true;
  return false;
}

/* Form N is about to call HELPER, which the kernel marks gpl_only: under
   a license that is not GPL-compatible the verifier would refuse it, so
   say so now, naming the helper, the form and the license.  */
void
gebpf_emit_gpl_only (struct emit *E, struct node *n, const char *helper)
{
  const char *lic = E->L->license ? E->L->license : "GPL";
  if (gpl_compatible (lic))
    return;
  gebpf_error (gebpf_k_validation, "bpf-fn->c", 0,
               "declare a GPL-compatible #:license (\"GPL\", \"Dual BSD/GPL\", "
               "\"Dual MIT/GPL\" ...) or do without this form",
               "bpf-fn %s: %s calls the GPL-only helper %s, but the license "
               "is %s", E->L->fname, form_text (n, 60), helper,
               gebpf_repr (scm_from_utf8_string (lic)));
}

/* The value of N as an integer (host order).  */
void
gebpf_emit_ex_int (struct emit *E, struct buf *b, struct node *n)
{
  if (n->ty == TY_IPV4)
    {
      bs (b, "((__u64)bpf_ntohl (");
      gebpf_emit_ex (E, b, n);
      bs (b, "))");
    }
  else if (n->ty == TY_BOOL)
    {
      bs (b, "((__u64)(");
      gebpf_emit_ex (E, b, n);
      bs (b, "))");
    }
  else
    gebpf_emit_ex (E, b, n);
}

/* N as a test.  */
static void
ex_test (struct emit *E, struct buf *b, struct node *n)
{
  bs (b, "(");
  gebpf_emit_ex (E, b, n);
  bs (b, ")");
}

/* The C expression storing N into a T.  */
void
gebpf_emit_ex_to (struct emit *E, struct buf *b, const struct gebpf_type *t,
                  struct node *n)
{
  switch (t->kind)
    {
    case GT_BE16:
      bs (b, "bpf_htons ((__u16)");
      gebpf_emit_ex_int (E, b, n);
      bs (b, ")");
      return;
    case GT_BE32:
      bs (b, "bpf_htonl ((__u32)");
      gebpf_emit_ex_int (E, b, n);
      bs (b, ")");
      return;
    case GT_BE64:
      bs (b, "bpf_cpu_to_be64 ((__u64)");
      gebpf_emit_ex_int (E, b, n);
      bs (b, ")");
      return;
    case GT_IPV4:
      if (n->ty == TY_INT)
        {
          bs (b, "bpf_htonl ((__u32)");
          gebpf_emit_ex (E, b, n);
          bs (b, ")");
          return;
        }
      gebpf_emit_ex (E, b, n);
      return;
    case GT_U8: case GT_U16: case GT_U32: case GT_U64: case GT_I8:
    case GT_I16: case GT_I32: case GT_I64: case GT_BOOL: case GT_UINT:
      bf (b, "(%s)", gebpf_emit_tname (E, t));
      gebpf_emit_ex_int (E, b, n);
      return;
    default:
      gebpf_emit_ex (E, b, n);
      return;
    }
}

/* Read a T from the lvalue text LV as an expression value.  */
void
gebpf_emit_ex_from (struct emit *E, struct buf *b, const struct gebpf_type *t,
                    const char *lv)
{
  switch (t->kind)
    {
    case GT_BE16: bf (b, "((__u64)bpf_ntohs (%s))", lv); return;
    case GT_BE32: bf (b, "((__u64)bpf_ntohl (%s))", lv); return;
    case GT_BE64: bf (b, "((__u64)bpf_be64_to_cpu (%s))", lv); return;
    case GT_I8: case GT_I16: case GT_I32: case GT_I64:
      bf (b, "((__s64)%s)", lv);
      return;
    case GT_U8: case GT_U16: case GT_U32: case GT_U64: case GT_UINT:
      bf (b, "((__u64)%s)", lv);
      return;
    case GT_BOOL:
      bf (b, "((int)!!%s)", lv);
      return;
    default:
      bs (b, lv);
      return;
    }
}

struct gebpf_map *
gebpf_emit_mapof (struct node *n)
{
  return scm_foreign_object_ref (n->ref, 0);
}

const char *
gebpf_emit_mapname (struct node *n)
{
  return uid (gebpf_emit_mapof (n)->cname);
}

void
gebpf_emit_body_seq (struct emit *E, struct buf *b, struct node *seq, int from,
                     bool value)
{
  for (int i = from; i < seq->nkid; i++)
    {
      struct node *k = seq->kid[i];
      line_directive (E, b, k);
      bool last = i == seq->nkid - 1;
      if (last && value && k->ty != TY_VOID && k->ty != TY_NORETURN)
        {
          bs (b, "\t");
          gebpf_emit_ex (E, b, k);
          bs (b, ";");
        }
      else
        {
          bs (b, "\t(void)");
          gebpf_emit_ex (E, b, k);
          bs (b, ";");
        }
    }
}

static bool
has_value (struct node *n)
{
  return n->ty != TY_VOID && n->ty != TY_NORETURN;
}

/* Emit a sequence whose last value goes into __rR.  */
static void
branch_seq (struct emit *E, struct buf *b, struct node *seq, int from, int r)
{
  bs (b, "{ ");
  for (int i = from; i < seq->nkid; i++)
    {
      struct node *k = seq->kid[i];
      line_directive (E, b, k);
      if (i == seq->nkid - 1 && r >= 0 && has_value (k))
        {
          bf (b, "\t__r%d = ", r);
          gebpf_emit_ex (E, b, k);
          bs (b, ";");
        }
      else
        {
          bs (b, "\t(void)");
          gebpf_emit_ex (E, b, k);
          bs (b, ";");
        }
    }
  bs (b, " }");
}

/* A branch of if: its value (if any) goes into __rR.  */
static void
branch (struct emit *E, struct buf *b, struct node *n, int r)
{
  if (n->op == OP_BEGIN)
    {
      branch_seq (E, b, n, 0, r);
      return;
    }
  bs (b, "{ ");
  if (r >= 0 && has_value (n))
    {
      bf (b, "__r%d = ", r);
      gebpf_emit_ex (E, b, n);
    }
  else
    {
      bs (b, "(void)");
      gebpf_emit_ex (E, b, n);
    }
  bs (b, "; }");
}

static void
ex_arith (struct emit *E, struct buf *b, struct node *n, const char *op)
{
  const char *cast = n->is_signed ? "(__s64)" : "(__u64)";
  if (n->nkid == 0)
    {
      bs (b, n->op == OP_MUL ? "((__u64)1)" : "((__u64)0)");
      return;
    }
  if (n->nkid == 1 && n->op == OP_SUB)
    {
      bf (b, "(-%s", cast);
      gebpf_emit_ex_int (E, b, n->kid[0]);
      bs (b, ")");
      return;
    }
  bs (b, "(");
  for (int i = 0; i < n->nkid; i++)
    {
      if (i)
        bf (b, " %s ", op);
      bs (b, cast);
      gebpf_emit_ex_int (E, b, n->kid[i]);
    }
  bs (b, ")");
}

static void
ex_minmax (struct emit *E, struct buf *b, struct node *n, const char *m)
{
  for (int i = 0; i < n->nkid - 1; i++)
    bf (b, "%s (", m);
  gebpf_emit_ex_int (E, b, n->kid[0]);
  for (int i = 1; i < n->nkid; i++)
    {
      bs (b, ", ");
      gebpf_emit_ex_int (E, b, n->kid[i]);
      bs (b, ")");
    }
}

static void
ex_compare (struct emit *E, struct buf *b, struct node *n)
{
  static const char *ops[] = { [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<",
                               [OP_GT] = ">", [OP_LE] = "<=", [OP_GE] = ">=" };
  const char *op = ops[n->op];
  struct node *a = n->kid[0], *c = n->kid[1];
  if (a->ty == TY_STR || c->ty == TY_STR)
    {
      struct node *v = a->ty == TY_STR ? c : a, *s = a->ty == TY_STR ? a : c;
      int k = gebpf_emit_tmp (E);
      bf (b, "({ __auto_type __v%d = ", k);
      gebpf_emit_ex (E, b, v);
      bf (b, "; %sgebpf_str_eq (__v%d.s, sizeof __v%d.s, ",
          n->op == OP_NE ? "!" : "", k, k);
      gebpf_emit_c_string (b, s->name);
      bf (b, ", %zu); })", strlen (s->name));
      return;
    }
  if (a->ty == TY_IPV6 || a->ty == TY_MAC || c->ty == TY_IPV6
      || (a->ty == TY_VALUE && c->ty == TY_VALUE))
    {
      bf (b, "(%s", n->op == OP_NE ? "!" : "");
      if (a->ty == TY_VALUE || c->ty == TY_VALUE)
        {
          /* A (bytes 16) field and an ipv6 or another such field: not
             both in6_addr, so compared as 16 bytes in temporaries.  */
          int k = gebpf_emit_tmp (E);
          bf (b, "({ __auto_type __m%d = ", k);
          gebpf_emit_ex (E, b, a);
          bf (b, "; __auto_type __n%d = ", k);
          gebpf_emit_ex (E, b, c);
          bf (b, "; gebpf_bytes_eq (&__m%d, &__n%d, 16); }))", k, k);
        }
      else if (a->ty == TY_IPV6)
        {
          bs (b, "gebpf_ip6_eq (");
          gebpf_emit_ex (E, b, a);
          bs (b, ", ");
          gebpf_emit_ex (E, b, c);
          bs (b, "))");
        }
      else
        {
          int k = gebpf_emit_tmp (E);
          bf (b, "({ struct gebpf_mac __m%d = ", k);
          gebpf_emit_ex (E, b, a);
          bf (b, ", __n%d = ", k);
          gebpf_emit_ex (E, b, c);
          bf (b, "; gebpf_bytes_eq (&__m%d, &__n%d, 6); }))", k, k);
        }
      return;
    }
  if (a->ty == TY_IPV4 && c->ty == TY_IPV4 && (n->op == OP_EQ || n->op == OP_NE))
    {
      bs (b, "(");
      gebpf_emit_ex (E, b, a);
      bf (b, " %s ", op);
      gebpf_emit_ex (E, b, c);
      bs (b, ")");
      return;
    }
  const char *cast = a->is_signed || c->is_signed ? "(__s64)" : "(__u64)";
  bf (b, "(%s", cast);
  gebpf_emit_ex_int (E, b, a);
  bf (b, " %s %s", op, cast);
  gebpf_emit_ex_int (E, b, c);
  bs (b, ")");
}

/* Value-producing conditionals go through a result variable.  */
static void
ex_if (struct emit *E, struct buf *b, struct node *n)
{
  int r = has_value (n) ? gebpf_emit_tmp (E) : -1;
  bs (b, "({ ");
  if (r >= 0)
    bf (b, "%s __r%d; __builtin_memset (&__r%d, 0, sizeof __r%d); ",
        gebpf_emit_ctype (E, n), r, r, r);
  bs (b, "if ");
  ex_test (E, b, n->kid[0]);
  bs (b, " ");
  branch (E, b, n->kid[1], r);
  if (n->nkid == 3)
    {
      bs (b, " else ");
      branch (E, b, n->kid[2], r);
    }
  if (r >= 0)
    bf (b, " __r%d; })", r);
  else
    bs (b, " })");
}

static void
ex_cond (struct emit *E, struct buf *b, struct node *n)
{
  int r = has_value (n) ? gebpf_emit_tmp (E) : -1;
  bs (b, "({ ");
  if (r >= 0)
    bf (b, "%s __r%d; __builtin_memset (&__r%d, 0, sizeof __r%d); ",
        gebpf_emit_ctype (E, n), r, r, r);
  for (int i = 0; i < n->nkid; i++)
    {
      struct node *cl = n->kid[i];
      bool is_else = cl->name && strcmp (cl->name, "else") == 0;
      if (i)
        bs (b, " else ");
      if (is_else)
        {
          branch_seq (E, b, cl, 0, r);
          continue;
        }
      if (cl->nkid == 1)
        {
          /* (cond (TEST)) yields the test itself.  */
          int t = gebpf_emit_tmp (E);
          bf (b, "{ __auto_type __t%d = ", t);
          gebpf_emit_ex (E, b, cl->kid[0]);
          bf (b, "; if (__t%d) { ", t);
          if (r >= 0 && (n->ty == TY_INT || n->ty == TY_BOOL))
            bf (b, "__r%d = __t%d; ", r, t);
          bs (b, "} }");
          continue;
        }
      bs (b, "if ");
      ex_test (E, b, cl->kid[0]);
      bs (b, " ");
      branch_seq (E, b, cl, 1, r);
    }
  if (r >= 0)
    bf (b, " __r%d; })", r);
  else
    bs (b, " })");
}


void
gebpf_emit_ex (struct emit *E, struct buf *b, struct node *n)
{
  switch (n->op)
    {
    case OP_INT:
      if (n->uneg)
        {
          if (n->ival == INT64_MIN)
            bs (b, "((__s64)(-9223372036854775807LL - 1))");
          else
            bf (b, "((__s64)%lldLL)", (long long) n->ival);
        }
      else
        bf (b, "((__u64)%lluULL)", (unsigned long long) n->ival);
      return;
    case OP_BOOL:
      bs (b, n->ival ? "1" : "0");
      return;
    case OP_STR:
      gebpf_emit_c_string (b, n->name);
      return;
    case OP_LOCAL:
      bf (b, "v%d", n->slot);
      return;
    case OP_CTX:
      bs (b, "ctx");
      return;
    case OP_MAPREF:
      bf (b, "(&%s)", gebpf_emit_mapname (n));
      return;
    case OP_LET:
    case OP_LETSTAR:
      {
        struct node *bsn = n->kid[0];
        bs (b, "({ ");
        for (int i = 0; i < bsn->nkid; i++)
          {
            struct node *bd = bsn->kid[i];
            bf (b, "%s v%d = ", gebpf_emit_ctype (E, bd->kid[0]), bd->slot);
            gebpf_emit_ex (E, b, bd->kid[0]);
            bs (b, "; ");
          }
        gebpf_emit_body_seq (E, b, n->kid[1], 0, true);
        bs (b, " })");
        return;
      }
    case OP_BEGIN:
      bs (b, "({ ");
      gebpf_emit_body_seq (E, b, n, 0, true);
      bs (b, " })");
      return;
    case OP_SET:
      bf (b, "({ v%d = ", n->slot);
      gebpf_emit_ex (E, b, n->kid[0]);
      bs (b, "; })");
      return;
    case OP_IF:
      ex_if (E, b, n);
      return;
    case OP_WHEN:
    case OP_UNLESS:
      bs (b, n->op == OP_WHEN ? "({ if " : "({ if (!");
      ex_test (E, b, n->kid[0]);
      bs (b, n->op == OP_WHEN ? " " : ") ");
      branch_seq (E, b, n, 1, -1);
      bs (b, " })");
      return;
    case OP_COND:
      ex_cond (E, b, n);
      return;
    case OP_CASE:
      {
        int r = has_value (n) ? gebpf_emit_tmp (E) : -1;
        int k = gebpf_emit_tmp (E);
        bf (b, "({ __u64 __c%d = ", k);
        gebpf_emit_ex_int (E, b, n->kid[0]);
        bs (b, "; ");
        if (r >= 0)
          bf (b, "%s __r%d; __builtin_memset (&__r%d, 0, sizeof __r%d); ",
              gebpf_emit_ctype (E, n), r, r, r);
        for (int i = 1; i < n->nkid; i++)
          {
            struct node *cl = n->kid[i];
            if (i > 1)
              bs (b, " else ");
            if (!(cl->name && strcmp (cl->name, "else") == 0))
              {
                bs (b, "if (");
                int j = 0;
                for (SCM d = cl->datum; scm_is_pair (d); d = SCM_CDR (d), j++)
                  {
                    SCM v = SCM_CAR (d);
                    long kv = 0;
                    if (scm_is_keyword (v) || scm_is_symbol (v))
                      gebpf_keyword_const (gebpf_sym_str
                                           (gebpf_enum_symbol (v)), &kv);
                    bf (b, "%s__c%d == (__u64)%lldLL", j ? " || " : "", k,
                        scm_is_integer (v) ? (long long) scm_to_int64 (v)
                        : (long long) kv);
                  }
                bs (b, ") ");
              }
            branch_seq (E, b, cl, 0, r);
          }
        if (r >= 0)
          bf (b, " __r%d; })", r);
        else
          bs (b, " })");
        return;
      }
    case OP_AND:
    case OP_OR:
      if (n->nkid == 0)
        {
          bs (b, n->op == OP_AND ? "1" : "0");
          return;
        }
      bs (b, "(");
      for (int i = 0; i < n->nkid; i++)
        {
          if (i)
            bs (b, n->op == OP_AND ? " && " : " || ");
          bs (b, "!!");
          ex_test (E, b, n->kid[i]);
        }
      bs (b, ")");
      return;
    case OP_NOT:
      bs (b, "(!");
      ex_test (E, b, n->kid[0]);
      bs (b, ")");
      return;
    case OP_DO_TIMES:
      bf (b, "({ for (__u64 v%d = 0; v%d < %lluULL; v%d++) ", n->slot, n->slot,
          (unsigned long long) n->kid[0]->ival, n->slot);
      branch_seq (E, b, n->kid[1], 0, -1);
      bs (b, " })");
      return;
    case OP_RETURN:
      if (E->in_inline)
        gebpf_lower_error (E->L, n, "return from the program's body; an "
                           "inline's value is its last form",
                           "return inside define-bpf-inline");
      bs (b, "({ return ");
      if (n->nkid)
        {
          bs (b, "(int)");
          gebpf_emit_ex_int (E, b, n->kid[0]);
        }
      else
        bf (b, "%ld", gebpf_default_return (E->L->kind));
      bs (b, "; })");
      return;
    case OP_ADD: ex_arith (E, b, n, "+"); return;
    case OP_SUB: ex_arith (E, b, n, "-"); return;
    case OP_MUL: ex_arith (E, b, n, "*"); return;
    case OP_DIV:
    case OP_MOD:
    case OP_REM:
      /* BPF before cpu v4 divides unsigned only.  */
      bs (b, "((__u64)");
      gebpf_emit_ex_int (E, b, n->kid[0]);
      bs (b, n->op == OP_DIV ? " / (__u64)" : " % (__u64)");
      gebpf_emit_ex_int (E, b, n->kid[1]);
      bs (b, ")");
      return;
    case OP_MIN: ex_minmax (E, b, n, "GEBPF_MIN"); return;
    case OP_MAX: ex_minmax (E, b, n, "GEBPF_MAX"); return;
    case OP_LOGAND: ex_arith (E, b, n, "&"); return;
    case OP_LOGIOR: ex_arith (E, b, n, "|"); return;
    case OP_LOGXOR: ex_arith (E, b, n, "^"); return;
    case OP_LOGNOT:
      bs (b, "(~(__u64)");
      gebpf_emit_ex_int (E, b, n->kid[0]);
      bs (b, ")");
      return;
    case OP_ASH:
      {
        struct node *sh = n->kid[1];
        if (sh->op == OP_INT)
          {
            bs (b, "((__u64)");
            gebpf_emit_ex_int (E, b, n->kid[0]);
            if (sh->uneg)
              bf (b, " >> %lld)", (long long) -sh->ival);
            else
              bf (b, " << %lld)", (long long) sh->ival);
            return;
          }
        int k = gebpf_emit_tmp (E);
        bf (b, "({ __u64 __a%d = ", k);
        gebpf_emit_ex_int (E, b, n->kid[0]);
        bf (b, "; __s64 __s%d = (__s64)", k);
        gebpf_emit_ex_int (E, b, sh);
        bf (b, "; __s%d >= 0 ? __a%d << (__s%d & 63) : __a%d >> (-__s%d & 63); })",
            k, k, k, k, k);
        return;
      }
    case OP_EQ: case OP_NE: case OP_LT: case OP_GT: case OP_LE: case OP_GE:
      ex_compare (E, b, n);
      return;
    case OP_ZEROP:
      bs (b, "(");
      gebpf_emit_ex_int (E, b, n->kid[0]);
      bs (b, " == 0)");
      return;
    case OP_CALL:
      bf (b, "((__u64)%s ())", gebpf_helper_lookup (n->name)->c);
      return;
    case OP_PID:
    case OP_TGID:
      bs (b, "(bpf_get_current_pid_tgid () >> 32)");
      return;
    case OP_TID:
      bs (b, "((__u64)(__u32)bpf_get_current_pid_tgid ())");
      return;
    case OP_UID:
      bs (b, "((__u64)(__u32)bpf_get_current_uid_gid ())");
      return;
    case OP_GID:
      bs (b, "(bpf_get_current_uid_gid () >> 32)");
      return;
    case OP_CPU:
      bs (b, "((__u64)bpf_get_smp_processor_id ())");
      return;
    case OP_KTIME:
      bs (b, "bpf_ktime_get_ns ()");
      return;
    case OP_PRANDOM:
      bs (b, "((__u64)bpf_get_prandom_u32 ())");
      return;
    case OP_COMM:
      gebpf_emit_ex_read (E, b, n);
      return;
    case OP_STRING_EQ:
    case OP_STRING_PREFIX:
      gebpf_emit_ex_string_test (E, b, n);
      return;
    case OP_READ_USER:
    case OP_READ_KERNEL:
      gebpf_emit_ex_read_typed (E, b, n);
      return;
    case OP_MAP_GET: case OP_MAP_REF: case OP_MAP_SET: case OP_MAP_DELETE:
    case OP_MAP_INC:
      gebpf_emit_ex_map_access (E, b, n);
      return;
    case OP_HIST:
    case OP_LHIST:
      gebpf_emit_ex_hist (E, b, n);
      return;
    case OP_PROTO:
      if (E->L->kind == PK_SOCKET_FILTER)
        bs (b, "((__u64)gebpf_l4proto (gebpf_sf_ip4 (ctx, &__sf_ip4), "
            "gebpf_sf_ip6 (ctx, &__sf_ip6)))");
      else if (E->L->kind == PK_CGROUP_SKB)
        bf (b, "((__u64)gebpf_l4proto (gebpf_ip4_l3 (%s, %s, ctx->protocol), "
            "gebpf_ip6_l3 (%s, %s, ctx->protocol)))", gebpf_emit_packet_data (E),
            gebpf_emit_packet_end (E), gebpf_emit_packet_data (E), gebpf_emit_packet_end (E));
      else
        bf (b, "((__u64)gebpf_l4proto (gebpf_ip4 (%s, %s), gebpf_ip6 (%s, %s)))",
            gebpf_emit_packet_data (E), gebpf_emit_packet_end (E), gebpf_emit_packet_data (E), gebpf_emit_packet_end (E));
      return;
    case OP_PKT_ETH: case OP_PKT_IPV4: case OP_PKT_IPV6: case OP_PKT_TCP:
    case OP_PKT_UDP: case OP_PKT_ICMP:
      gebpf_emit_ex_header (E, b, n);
      return;
    case OP_FIELD:
      gebpf_emit_ex_field (E, b, n);
      return;
    case OP_SET_FIELD: case OP_XDP_ADJUST_HEAD: case OP_XDP_ADJUST_TAIL:
    case OP_REDIRECT: case OP_REDIRECT_PEER: case OP_REDIRECT_MAP:
    case OP_FIB_LOOKUP:
    case OP_FIB_STATUS:
      gebpf_emit_ex_packet_write (E, b, n);
      return;
    case OP_FRAGP:
      {
        int k = gebpf_emit_tmp (E);
        bf (b, "({ __auto_type __h%d = ", k);
        gebpf_emit_ex (E, b, n->kid[0]);
        bf (b, "; __h%d ? (int)((bpf_ntohs (__h%d->frag_off) & 0x3fff) != 0) "
            ": 0; })", k, k);
        return;
      }
    case OP_IPV4_CONST:
      bf (b, "((__be32)bpf_htonl (0x%08llxU))", (unsigned long long) n->ival);
      return;
    case OP_IPV6_CONST:
      bs (b, "((struct in6_addr){ .in6_u.u6_addr8 = {");
      for (int i = 0; i < 16; i++)
        bf (b, "%s%u", i ? "," : "", n->addr6[i]);
      bs (b, "} })");
      return;
    case OP_PKT_LEN:
      if (E->L->kind == PK_XDP)
        bs (b, "((__u64)(ctx->data_end - ctx->data))");
      else
        bs (b, "((__u64)ctx->len)");
      return;
    case OP_PKT_VLAN:
      {
        /* The outer tag (802.1Q or 802.1ad) in the frame; in tc, a tag
           the driver or veth took out of the frame (vlan_present)
           first.  */
        int k = gebpf_emit_tmp (E);
        bf (b, "({ __s64 __t%d = -1; ", k);
        if (E->L->kind == PK_TC)
          bf (b, "if (ctx->vlan_present) __t%d = ctx->vlan_tci & 0xfff; "
              "else ", k);
        bf (b, "{ __u8 *__d%d = (void *)(long)ctx->data; "
            "if ((void *)(__d%d + 18) <= (void *)(long)ctx->data_end) { "
            "__u16 __p%d = ((struct ethhdr *)__d%d)->h_proto; "
            "if (__p%d == bpf_htons (0x8100) || __p%d == bpf_htons (0x88a8)) "
            "__t%d = bpf_ntohs (*(__u16 *)(__d%d + 14)) & 0xfff; } } "
            "__t%d; })", k, k, k, k, k, k, k, k, k);
        return;
      }
    case OP_CTX_FIELD:
      {
        const struct ctxfield *f = gebpf_ctxfield (n->field);
        bf (b, f->be16 ? "((__u64)bpf_ntohs (ctx->%s))" : "((__u64)ctx->%s)",
            f->name);
        return;
      }
    case OP_PKT_IFINDEX:
      bs (b, E->L->kind == PK_XDP ? "((__u64)ctx->ingress_ifindex)"
          : "((__u64)ctx->ifindex)");
      return;
    case OP_UNDER_CGROUP:
      /* 1 under, 0 not, a negative errno for an empty or out-of-range
         slot: only 1 is true, so a missing cgroup matches nothing.  */
      bf (b, "(bpf_current_task_under_cgroup (&%s, (__u32)",
          gebpf_emit_mapname (n->kid[0]));
      gebpf_emit_ex_int (E, b, n->kid[1]);
      bs (b, ") == 1)");
      return;
    case OP_ARG:
      gebpf_emit_ex_arg (E, b, n);
      return;
    case OP_RETVAL:
      if (E->L->kind == PK_FEXIT)
        bf (b, "((__s64)((__u64 *)ctx)[%d])", n->field);
      else if (E->L->kind == PK_TRACEPOINT)
        {
          struct node ret = *n;
          ret.ival = 8;
          ret.is_signed = true;
          gebpf_emit_tp_int (E, b, &ret);
        }
      else
        bs (b, "((__s64)PT_REGS_RC (ctx))");
      return;
    case OP_CURRENT_TASK:
      gebpf_emit_gpl_only (E, n, "bpf_get_current_task");
      bs (b, "((struct task_struct___gebpf *)bpf_get_current_task ())");
      return;
    case OP_CORE_READ:
      {
        if (n->field == 1)
          {
            gebpf_emit_ex_read (E, b, n);
            return;
          }
        gebpf_emit_gpl_only (E, n, "bpf_probe_read_kernel");
        bs (b, n->ty == TY_INT ? (n->is_signed ? "((__s64)BPF_CORE_READ ("
                                  : "((__u64)BPF_CORE_READ (")
            : "(BPF_CORE_READ (");
        /* Cast: an argument typed by BTF is an integer in C.  */
        bf (b, "((%s)(", gebpf_emit_ctype (E, n->kid[0]));
        gebpf_emit_ex (E, b, n->kid[0]);
        bs (b, "))");
        gebpf_emit_ex_core_fields (b, n);
        bs (b, "))");
        return;
      }
    case OP_READ_USER_STR:
    case OP_READ_KERNEL_STR:
      gebpf_emit_ex_read (E, b, n);
      return;
    case OP_PROBE:
      /* libbpf keeps the attach cookie of a USDT probe for its own
         argument specs, and hands the user's cookie to bpf_usdt_cookie.  */
      bs (b, E->L->kind == PK_USDT ? "((__u64) bpf_usdt_cookie (ctx))"
          : "bpf_get_attach_cookie (ctx)");
      return;
    case OP_USDT_ARG:
      bf (b, "({ long gebpf_ua_ = 0; bpf_usdt_arg (ctx, %lld, &gebpf_ua_); "
          "(__s64) gebpf_ua_; })", (long long) n->kid[1]->ival);
      return;
    case OP_EMIT:
    case OP_PERF_EMIT:
      {
        struct node *v = n->kid[1];
        struct gebpf_map *m = gebpf_emit_mapof (n->kid[0]);
        const struct gebpf_type *rt = m->record;
        /* An integer goes out as the map's integer record type, if any.  */
        const struct gebpf_type *wt = v->ty == TY_VALUE ? v->vt
          : v->ty == TY_IPV4 ? gebpf_type_base (GT_IPV4)
          : rt && (rt->kind <= GT_I64 || rt->kind == GT_UINT) ? rt
          : gebpf_type_base (GT_U64);
        /* Gathered, not done: the driver notes the type for the readers
           and declares a ring's control map once lowering succeeded.  */
        E->L->emitted = scm_cons (scm_cons (n->kid[0]->ref,
                                            scm_from_pointer ((void *) wt,
                                                              NULL)),
                                  E->L->emitted);
        const char *ctl = NULL;
        if (m->map_type == BPF_MAP_TYPE_RINGBUF)
          {
            char *cn = NULL;
            if (asprintf (&cn, GEBPF_RBCTL_PREFIX "%s", m->cname) < 0)
              cn = NULL;
            ctl = scm_gc_strdup (cn ? cn : GEBPF_RBCTL_PREFIX "?", "ctl");
            free (cn);
            bool seen = false;
            for (SCM l = E->L->helper_maps; scm_is_pair (l); l = SCM_CDR (l))
              if (scm_is_eq (scm_cadr (SCM_CAR (l)), n->kid[0]->ref))
                seen = true;
            if (!seen)
              E->L->helper_maps
                = scm_cons (scm_list_3 (scm_from_utf8_symbol
                                        ("ringbuf-control"),
                                        n->kid[0]->ref,
                                        scm_from_utf8_string (ctl)),
                            E->L->helper_maps);
          }
        int k = gebpf_emit_tmp (E);
        char lv[32];
        snprintf (lv, sizeof lv, "__e%d", k);
        /* Zeroed, then filled in place: padding is defined and a struct
           is not copied through the small BPF stack.  */
        bf (b, "({ %s %s; __builtin_memset (&%s, 0, sizeof %s); ",
            gebpf_emit_tname (E, wt), lv, lv, lv);
        gebpf_emit_fill (E, b, wt, lv, v);
        if (n->op == OP_EMIT)
          {
            char def[300];
            snprintf (def, sizeof def, "} %s SEC(\".maps\");", ctl);
            if (!E->maps.p || !strstr (E->maps.p, def))
              {
                gebpf_emit_mark (E, &E->maps, ctl);
                bf (&E->maps, "/* emit! into %s: records dropped (slot 0) and "
                  "output flags (slot 1) */\nstruct {\n"
                  "\t__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);\n"
                  "\t__uint(max_entries, 2);\n\t__type(key, __u32);\n"
                  "\t__type(value, __u64);\n%s\n\n",
                  m->name, def);
              }
            bf (b, "; gebpf_ringbuf_emit (&%s, &%s, &__e%d, sizeof __e%d); })",
                gebpf_emit_mapname (n->kid[0]), ctl, k, k);
          }
        else
          {
            gebpf_emit_gpl_only (E, n, "bpf_perf_event_output");
            if (n->nkid == 4)
              {
                /* At most the packet's length: the kernel refuses the
                   whole sample when asked for more (xdp-tutorial's
                   xdp_sample_pkts takes the min itself).  */
                bf (b, "; __u64 __c%d = (__u64)", k);
                gebpf_emit_ex_int (E, b, n->kid[3]);
                bf (b, "; __u64 __l%d = %s; if (__c%d > __l%d) __c%d = __l%d; "
                    "if (__c%d > 0xffff) __c%d = 0xffff",
                    k, E->L->kind == PK_XDP
                    ? "(__u64)(ctx->data_end - ctx->data)" : "(__u64)ctx->len",
                    k, k, k, k, k, k);
                bf (b, "; bpf_perf_event_output (ctx, &%s, BPF_F_CURRENT_CPU "
                    "| (__c%d << 32), &__e%d, sizeof __e%d); })",
                    gebpf_emit_mapname (n->kid[0]), k, k, k);
              }
            else
              bf (b, "; bpf_perf_event_output (ctx, &%s, BPF_F_CURRENT_CPU, "
                  "&__e%d, sizeof __e%d); })", gebpf_emit_mapname (n->kid[0]),
                  k, k);
          }
        return;
      }
    case OP_PRINTK:
      {
        int k = gebpf_emit_tmp (E);
        bs (b, "({ ");
        for (int i = 1; i < n->nkid; i++)
          {
            bf (b, "__auto_type __a%d_%d = ", k, i);
            if (n->kid[i]->ty == TY_VALUE)
              gebpf_emit_ex (E, b, n->kid[i]);
            else
              gebpf_emit_ex_int (E, b, n->kid[i]);
            bs (b, "; ");
          }
        gebpf_emit_gpl_only (E, n, "bpf_trace_printk");
        bs (b, "bpf_printk (");
        gebpf_emit_c_string (b, n->kid[0]->name);
        for (int i = 1; i < n->nkid; i++)
          bf (b, n->kid[i]->ty == TY_VALUE ? ", __a%d_%d.s" : ", __a%d_%d",
              k, i);
        bs (b, "); })");
        return;
      }
    case OP_MAKE_STRUCT:
      {
        int k = gebpf_emit_tmp (E);
        const char *t = gebpf_emit_tname (E, n->st);
        bf (b, "({ %s __s%d; __builtin_memset (&__s%d, 0, sizeof __s%d); ",
            t, k, k, k);
        for (int i = 0; i < n->nkid; i++)
          if (n->kid[i])
            {
              char lv[160];
              snprintf (lv, sizeof lv, "__s%d.%s", k,
                        uid (n->st->fields[i].cname));
              gebpf_emit_fill (E, b, n->st->fields[i].type, lv, n->kid[i]);
            }
        bf (b, "__s%d; })", k);
        return;
      }
    case OP_CORE_CAST:
      bf (b, "((%s)(long)(", gebpf_emit_ctype (E, n));
      gebpf_emit_ex (E, b, n->kid[0]);
      bs (b, "))");
      return;
    case OP_DEREF:
      {
        /* types.c's gebpf_deref: the value, or zero for a null pointer.  */
        int k = gebpf_emit_tmp (E);
        bf (b, "({ __auto_type __v%d = ", k);
        gebpf_emit_ex (E, b, n->kid[0]);
        bf (b, "; __v%d ? ", k);
        char lv[32];
        snprintf (lv, sizeof lv, "(*__v%d)", k);
        gebpf_emit_ex_from (E, b, n->vt, lv);
        if (n->ty == TY_INT || n->ty == TY_BOOL || n->ty == TY_IPV4)
          bs (b, " : 0; })");
        else
          bf (b, " : (%s){}; })", gebpf_emit_tname (E, n->vt));
        return;
      }
    case OP_STRUCT_REF:
      {
        struct node *v = n->kid[0];
        const struct gebpf_field *f = &n->st->fields[n->field];
        int k = gebpf_emit_tmp (E);
        char lv[160];
        bf (b, "({ __auto_type __v%d = ", k);
        gebpf_emit_ex (E, b, v);
        bs (b, "; ");
        if (v->ty == TY_VALPTR)
          {
            snprintf (lv, sizeof lv, "__v%d->%s", k, uid (f->cname));
            bf (b, "__v%d ? ", k);
            gebpf_emit_ex_from (E, b, f->type, lv);
            if (n->ty == TY_INT || n->ty == TY_BOOL || n->ty == TY_IPV4)
              bs (b, " : 0; })");
            else
              bf (b, " : (%s){}; })", gebpf_emit_tname (E, f->type));
          }
        else
          {
            snprintf (lv, sizeof lv, "__v%d.%s", k, uid (f->cname));
            gebpf_emit_ex_from (E, b, f->type, lv);
            bs (b, "; })");
          }
        return;
      }
    case OP_CONST:
      {
        char *c = gebpf_c_ident (scm_from_utf8_string (n->name), "bpf-fn",
                                 "const name");
        bf (b, "%s(%s)", n->is_signed ? "(__s64)" : "(__u64)", uid (c));
        free (c);
        return;
      }
    case OP_STACK_ID:
      gebpf_emit_gpl_only (E, n, "bpf_get_stackid");
      bs (b, "((__s64)bpf_get_stackid (ctx, ");
      gebpf_emit_ex (E, b, n->kid[1]);
      if (n->nkid == 4)
        {
          bs (b, ", (");
          ex_test (E, b, n->kid[3]);
          bs (b, ") ? BPF_F_USER_STACK : 0))");
        }
      else
        bs (b, ", 0))");
      return;
    case OP_KSTACK:
      gebpf_emit_gpl_only (E, n, "bpf_get_stackid");
      bs (b, "((__u64)(__u32)bpf_get_stackid (ctx, ");
      gebpf_emit_ex (E, b, n->kid[0]);
      bs (b, ", 0))");
      return;
    case OP_USTACK:
      /* The process id rides along: user frames are named from the
         files that process maps.  */
      gebpf_emit_gpl_only (E, n, "bpf_get_stackid");
      bs (b, "(((bpf_get_current_pid_tgid () >> 32) << 32) "
          "| (__u64)(__u32)bpf_get_stackid (ctx, ");
      gebpf_emit_ex (E, b, n->kid[0]);
      bs (b, ", BPF_F_USER_STACK))");
      return;
    case OP_INLINE_CALL:
      bf (b, "%s (", n->name);
      for (int i = 0; i < n->nkid; i++)
        {
          if (i)
            bs (b, ", ");
          gebpf_emit_ex (E, b, n->kid[i]);
        }
      bs (b, ")");
      return;
    default:
      gebpf_lower_error (E->L, n, "report this form", "cannot emit %s",
                         gebpf_op_name (n->op));
    }
}

SCM
gebpf_emit (struct lower *L, SCM *linemap)
{
  struct emit E;
  memset (&E, 0, sizeof E);
  E.L = L;
  E.typedefs = SCM_EOL;
  E.linemap = SCM_EOL;
  E.marks = SCM_EOL;

  gebpf_emit_license_of (L);
  if (L->uses_vmlinux)
    gebpf_emit_core_types (&E);
  /* The body first: it registers the types it needs.  */
  struct buf *b = &E.body;
  if (L->kind == PK_SOCKET_FILTER && L->packet_layers)
    bs (b, "\tstruct ethhdr __sf_eth; struct iphdr __sf_ip4; "
        "struct ipv6hdr __sf_ip6;\n\tstruct tcphdr __sf_tcp; "
        "struct udphdr __sf_udp; struct icmphdr __sf_icmp;\n");
  gebpf_emit_body_seq (&E, b, L->body, 0, false);
  struct node *last = L->body->nkid ? L->body->kid[L->body->nkid - 1] : NULL;
  if (!last || last->op != OP_RETURN)
    bf (b, "\n\treturn %ld;", gebpf_default_return (L->kind));

  for (struct inline_inst *in = L->insts; in; in = in->next)
    gebpf_emit_inline (&E, in);
  for (SCM l = scm_reverse (L->maps); scm_is_pair (l); l = SCM_CDR (l))
    gebpf_emit_map (&E, scm_foreign_object_ref (SCM_CAR (l), 0));
  for (SCM l = scm_reverse (L->consts); scm_is_pair (l); l = SCM_CDR (l))
    {
      char *c = gebpf_c_ident (SCM_CAR (l), "bpf-fn", "const name");
      gebpf_emit_mark (&E, &E.consts, uid (c));
      bf (&E.consts, "/* (const %s): set before load by #:constants */\n"
          "const volatile __u64 %s __asm__ (\"%s\") = 0;\n",
          gebpf_sym_str (SCM_CAR (l)), uid (c), c);
      free (c);
    }

  struct buf out = { 0 };
  const char *lic = gebpf_emit_license_of (L);
  if (gebpf_emit_spdx_of (lic))
    bf (&out, "// SPDX-License-Identifier: %s\n", gebpf_emit_spdx_of (lic));
  bf (&out, "/* Generated by guile-ebpf from (bpf-fn %s ...) for a %s "
      "program.  */\n", L->fname, gebpf_sym_name (gebpf_prog_kinds, L->kind));
  /* The includes, each also a part (see below).  */
  const char *incs[24];
  size_t ninc = 0;
  static const char *const net[] = {
    "linux/bpf.h", "linux/types.h", "linux/if_ether.h", "linux/in.h",
    "linux/in6.h", "linux/ip.h", "linux/ipv6.h", "linux/tcp.h", "linux/udp.h"
  };
  for (size_t i = 0; i < sizeof net / sizeof net[0]; i++)
    incs[ninc++] = net[i];
  if (L->kind == PK_KPROBE || L->kind == PK_KRETPROBE
      || L->kind == PK_UPROBE || L->kind == PK_URETPROBE
      || L->kind == PK_USDT)
    incs[ninc++] = "linux/ptrace.h";
  if (L->kind == PK_PERF_EVENT)
    incs[ninc++] = "linux/bpf_perf_event.h";
  incs[ninc++] = "bpf/bpf_helpers.h";
  incs[ninc++] = "bpf/bpf_endian.h";
  incs[ninc++] = "bpf/bpf_tracing.h";
  if (L->uses_vmlinux)
    incs[ninc++] = "bpf/bpf_core_read.h";
  if (L->kind == PK_USDT)     /* usdt.bpf.h expects bool defined */
    {
      incs[ninc++] = "stdbool.h";
      incs[ninc++] = "bpf/usdt.bpf.h";
    }
  SCM includes = SCM_EOL;
  for (size_t i = 0; i <= ninc; i++)
    {
      struct buf line = { 0 };
      if (i < ninc)
        bf (&line, "#include <%s>", incs[i]);
      else
        bs (&line, "#include \"gebpf.h\"");
      bf (&out, "%.*s\n", (int) line.len, line.p);
      includes = scm_cons (scm_from_utf8_stringn (line.p, line.len), includes);
    }
  bs (&out, "\n");
  if (E.types.len)
    {
      bput (&out, E.types.p, E.types.len);
      bs (&out, "\n");
    }
  if (E.maps.len)
    bput (&out, E.maps.p, E.maps.len);
  if (E.consts.len)
    {
      bput (&out, E.consts.p, E.consts.len);
      bs (&out, "\n");
    }
  if (E.inlines.len)
    bput (&out, E.inlines.p, E.inlines.len);
  bs (&out, "char LICENSE[] SEC(\"license\") = ");
  gebpf_emit_c_string (&out, lic);
  bs (&out, ";\n\n");
  char sec[300];
  gebpf_emit_section_name (&E, sec, sizeof sec);
  /* The function is u_NAME in C, like every user identifier; its
     assembler name stays NAME, the program name libbpf and the kernel
     show and deploy looks up.  */
  struct buf proto = { 0 }, def = { 0 };
  bf (&proto, "int %s(%sctx) __asm__ (\"%s\");\n", uid (L->fname),
      gebpf_kinds[L->kind].ctx, L->fname);
  bf (&def, "SEC(\"%s\")\nint %s(%sctx)\n{", sec, uid (L->fname),
      gebpf_kinds[L->kind].ctx);
  bput (&def, b->p, b->len);
  bs (&def, "\n}\n");
  bput (&out, proto.p, proto.len);
  bs (&out, "\n");
  bput (&out, def.p, def.len);

  /* The parts: several programs' parts make one unit (deploy.scm's
     combine-c) without reading this text back.  The prototype is a
     declaration like the others, keyed by the function.  */
  SCM decls = scm_append
    (scm_list_2 (gebpf_emit_declarations (&E),
                 scm_list_1 (scm_cons (scm_from_utf8_string (uid (L->fname)),
                                       scm_from_utf8_stringn (proto.p,
                                                              proto.len)))));
  L->c_parts = scm_list_4
    (scm_cons (scm_from_utf8_symbol ("includes"),
               scm_reverse_x (includes, SCM_EOL)),
     scm_cons (scm_from_utf8_symbol ("declarations"), decls),
     scm_cons (scm_from_utf8_symbol ("license"), scm_from_utf8_string (lic)),
     scm_cons (scm_from_utf8_symbol ("definition"),
               scm_from_utf8_stringn (def.p, def.len)));

  /* Line map: vector indexed by line number.  */
  int maxl = 0;
  for (SCM l = E.linemap; scm_is_pair (l); l = SCM_CDR (l))
    if (scm_to_int (SCM_CAAR (l)) > maxl)
      maxl = scm_to_int (SCM_CAAR (l));
  SCM vec = scm_c_make_vector (maxl + 1, SCM_BOOL_F);
  for (SCM l = E.linemap; scm_is_pair (l); l = SCM_CDR (l))
    scm_c_vector_set_x (vec, scm_to_int (SCM_CAAR (l)), SCM_CDAR (l));
  *linemap = vec;
  return scm_from_utf8_stringn (out.p, out.len);
}
