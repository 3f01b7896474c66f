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
   name only.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "lower.h"
#include "../map.h"
#include "../buf.h"

struct emit
{
  struct lower *L;
  struct buf types, maps, consts, inlines, body;
  SCM typedefs;                 /* alist: type object -> C name (registered) */
  int ntypes;
  int tmp;                      /* counter for temporaries */
  int cur_line;                 /* last #line emitted */
  SCM linemap;                  /* alist: scm line -> string */
  bool in_inline;
};

/* The C text grows in Guile's heap (buf.h): a lowering error can leave
   from anywhere without leaking it.  */
static inline void
bput (struct buf *b, const char *s, size_t n)
{
  gebpf_buf_add_gc (b, s, n);
}

static inline void
bs (struct buf *b, const char *s)
{
  bput (b, s, strlen (s));
}

static void bf (struct buf *b, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
bf (struct buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gebpf_buf_vprintf_gc (b, fmt, ap);
  va_end (ap);
}

static void ex (struct emit *E, struct buf *b, struct node *n);

/* Every identifier the user chose (map, struct, field, constant, inline)
   is written as u_NAME: no generated name and no name of the headers
   starts with u_, and no C keyword does, so none can collide -- a map
   named v0 or ctx, a field named int, a constant named return.  */
#define USER_PREFIX "u_"

static const char *
uid (const char *name)
{
  size_t n = strlen (name);
  char *s = scm_gc_malloc_pointerless (n + sizeof USER_PREFIX, "uid");
  memcpy (s, USER_PREFIX, sizeof USER_PREFIX - 1);
  memcpy (s + sizeof USER_PREFIX - 1, name, n + 1);
  return s;
}

/* ---- types ---------------------------------------------------------- */

static const char *tname (struct emit *E, const struct gebpf_type *t);

static const char *
registered (struct emit *E, const struct gebpf_type *t)
{
  SCM hit = scm_assq_ref (E->typedefs, t->object);
  return scm_is_true (hit) ? gebpf_str (hit) : NULL;
}

static const char *
reg (struct emit *E, const struct gebpf_type *t, const char *name)
{
  E->typedefs = scm_acons (t->object, scm_from_utf8_string (name), E->typedefs);
  return registered (E, t);
}

static const char *
tname (struct emit *E, const struct gebpf_type *t)
{
  static const char *ints[] = {
    [GT_U8] = "__u8", [GT_U16] = "__u16", [GT_U32] = "__u32",
    [GT_U64] = "__u64", [GT_I8] = "__s8", [GT_I16] = "__s16",
    [GT_I32] = "__s32", [GT_I64] = "__s64", [GT_BOOL] = "__u8",
    [GT_BE16] = "__be16", [GT_BE32] = "__be32", [GT_BE64] = "__be64",
    [GT_IPV4] = "__be32", [GT_IPV6] = "struct in6_addr",
    [GT_MAC] = "struct gebpf_mac",
  };
  if (t->kind <= GT_MAC)
    return ints[t->kind];
  if (t->kind == GT_UINT)
    return t->size == 1 ? "__u8" : t->size == 2 ? "__u16"
      : t->size == 4 ? "__u32" : "__u64";
  if (t->kind == GT_PREFIX)
    return t->elem->kind == GT_IPV4 ? "struct gebpf_lpm4" : "struct gebpf_lpm6";
  const char *done = registered (E, t);
  if (done)
    return done;
  char name[160];
  switch (t->kind)
    {
    case GT_STRING:
      snprintf (name, sizeof name, "gebpf_str_%zu", t->count);
      bf (&E->types, "typedef struct { char s[%zu]; } %s;\n", t->count, name);
      return reg (E, t, name);
    case GT_BYTES: case GT_RAW:
      snprintf (name, sizeof name, "gebpf_bytes_%zu", t->count);
      /* Two types of one size share the typedef.  */
      for (SCM l = E->typedefs; scm_is_pair (l); l = SCM_CDR (l))
        if (strcmp (gebpf_str (SCM_CDAR (l)), name) == 0)
          return reg (E, t, name);
      bf (&E->types, "typedef struct { __u8 b[%zu]; } %s;\n", t->count, name);
      return reg (E, t, name);
    case GT_ARRAY:
      {
        const char *el = tname (E, t->elem);
        snprintf (name, sizeof name, "gebpf_array_%d", E->ntypes++);
        bf (&E->types, "typedef struct { %s a[%zu]; } %s;\n", el, t->count,
            name);
        return reg (E, t, name);
      }
    case GT_STRUCT:
      {
        const char *fts[t->nfields ? t->nfields : 1];
        for (size_t i = 0; i < t->nfields; i++)
          fts[i] = tname (E, t->fields[i].type);
        snprintf (name, sizeof name, "struct %s", uid (t->cname));
        bf (&E->types, "/* (defbpf-struct %s ...) */\nstruct %s {\n",
            t->name, uid (t->cname));
        for (size_t i = 0; i < t->nfields; i++)
          bf (&E->types, "\t%s %s;\n", fts[i], uid (t->fields[i].cname));
        bf (&E->types, "};\n_Static_assert (sizeof (struct %s) == %zu, "
            "\"layout of %s\");\n", uid (t->cname), t->size, t->name);
        return reg (E, t, name);
      }
    default:
      return "__u64";
    }
}

/* C type of an expression's value.  */
static const char *
ctype (struct emit *E, struct node *n)
{
  switch (n->ty)
    {
    case TY_INT: return n->is_signed ? "__s64" : "__u64";
    case TY_BOOL: return "int";
    case TY_IPV4: return "__be32";
    case TY_IPV6: return "struct in6_addr";
    case TY_MAC: return "struct gebpf_mac";
    case TY_VALUE: return tname (E, n->vt);
    case TY_VALPTR:
      {
        char *s = NULL;
        if (asprintf (&s, "%s *", tname (E, n->vt)) < 0)
          return "void *";
        char *g = scm_gc_strdup (s, "ct");
        free (s);
        return g;
      }
    case TY_HDR:
      switch (n->hdr)
        {
        case H_ETH: return "struct ethhdr *";
        case H_IPV4: return "struct iphdr *";
        case H_IPV6: return "struct ipv6hdr *";
        case H_TCP: return "struct tcphdr *";
        case H_UDP: return "struct udphdr *";
        default: return "struct icmphdr *";
        }
    case TY_KPTR:
      {
        struct btf *b = E->L->tgt.btf;
        const struct btf_type *t = b ? btf__type_by_id (b, n->btf_id) : NULL;
        const char *nm = t ? btf__name_by_offset (b, t->name_off) : NULL;
        /* Only structs and unions get a CO-RE twin; a pointer to
           anything else (char, int ...) is read with read-kernel.  */
        if (!nm || !*nm || !(btf_is_struct (t) || btf_is_union (t)))
          return "void *";
        char *s = NULL;
        if (asprintf (&s, "%s %s___gebpf *", btf_is_union (t) ? "union"
                      : "struct", nm) < 0)
          return "void *";
        char *g = scm_gc_strdup (s, "ct");
        free (s);
        return g;
      }
    default:
      return "__u64";
    }
}

/* ---- helpers ---------------------------------------------------------- */

static int
tmp (struct emit *E)
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

static void c_string (struct buf *b, const char *s);

static void
line_directive (struct emit *E, struct buf *b, struct node *n)
{
  const char *f = base_name (n->file);
  if (!n->line || !f)
    return;
  /* The file name is the user's: escaped, so that no quote or newline in
     it can end the directive and start C of its own.  */
  bf (b, "\n\t/* %s */\n#line %d ", form_text (n, 72), n->line);
  c_string (b, f);
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

static void
c_string (struct buf *b, const char *s)
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
static void
gpl_only (struct emit *E, struct node *n, const char *helper)
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
static void
ex_int (struct emit *E, struct buf *b, struct node *n)
{
  if (n->ty == TY_IPV4)
    {
      bs (b, "((__u64)bpf_ntohl (");
      ex (E, b, n);
      bs (b, "))");
    }
  else if (n->ty == TY_BOOL)
    {
      bs (b, "((__u64)(");
      ex (E, b, n);
      bs (b, "))");
    }
  else
    ex (E, b, n);
}

/* N as a test.  */
static void
ex_test (struct emit *E, struct buf *b, struct node *n)
{
  bs (b, "(");
  ex (E, b, n);
  bs (b, ")");
}

/* The C expression storing N into a T.  */
static void
ex_to (struct emit *E, struct buf *b, const struct gebpf_type *t,
       struct node *n)
{
  switch (t->kind)
    {
    case GT_BE16:
      bs (b, "bpf_htons ((__u16)");
      ex_int (E, b, n);
      bs (b, ")");
      return;
    case GT_BE32:
      bs (b, "bpf_htonl ((__u32)");
      ex_int (E, b, n);
      bs (b, ")");
      return;
    case GT_BE64:
      bs (b, "bpf_cpu_to_be64 ((__u64)");
      ex_int (E, b, n);
      bs (b, ")");
      return;
    case GT_IPV4:
      if (n->ty == TY_INT)
        {
          bs (b, "bpf_htonl ((__u32)");
          ex (E, b, n);
          bs (b, ")");
          return;
        }
      ex (E, b, n);
      return;
    case GT_U8: case GT_U16: case GT_U32: case GT_U64: case GT_I8:
    case GT_I16: case GT_I32: case GT_I64: case GT_BOOL: case GT_UINT:
      bf (b, "(%s)", tname (E, t));
      ex_int (E, b, n);
      return;
    default:
      ex (E, b, n);
      return;
    }
}

/* Read a T from the lvalue text LV as an expression value.  */
static void
ex_from (struct emit *E, struct buf *b, const struct gebpf_type *t,
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

/* Statements filling the key variable KV (already zeroed) of map M.  */
static void ex_core_fields (struct buf *b, struct node *n);

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
      if (n->slot == 1 && n->vt == t)
        gpl_only (E, n, "bpf_probe_read_kernel");
      else if (n->slot == 2 && str)
        gpl_only (E, n, "bpf_probe_read_kernel_str");
      if (n->slot == 1 && n->vt == t)
        bf (b, "bpf_probe_read_kernel (&%s, sizeof %s, (char *)ctx + %d); ",
            lv, lv, n->field);
      else if (n->slot == 2 && str)
        /* __data_loc: the low 16 bits are the string's offset in the
           record.  */
        bf (b, "bpf_probe_read_kernel_str (%s.s, sizeof %s.s, (char *)ctx "
            "+ (*(__u32 *)((char *)ctx + %d) & 0xffff)); ", lv, lv,
            n->field);
      else
        return false;
      return true;
    case OP_READ_USER_STR:
    case OP_READ_KERNEL_STR:
      if (!str)
        return false;
      gpl_only (E, n, n->op == OP_READ_USER_STR ? "bpf_probe_read_user_str"
                : "bpf_probe_read_kernel_str");
      bf (b, "bpf_probe_read_%s_str (%s.s, sizeof %s.s, (const void *)(long)(",
          n->op == OP_READ_USER_STR ? "user" : "kernel", lv, lv);
      ex (E, b, n->kid[0]);
      bs (b, ")); ");
      return true;
    case OP_READ_USER:
    case OP_READ_KERNEL:
      {
        if (n->vt != t)
          return false;
        const char *h = n->op == OP_READ_USER ? "bpf_probe_read_user"
          : "bpf_probe_read_kernel";
        gpl_only (E, n, h);
        bf (b, "%s (&%s, sizeof %s, (const void *)(long)(", h, lv, lv);
        ex (E, b, n->kid[0]);
        bs (b, ")); ");
        return true;
      }
    case OP_CORE_READ:
      if (n->field != 1 || !str)
        return false;
      gpl_only (E, n, "bpf_probe_read_kernel_str");
      bf (b, "BPF_CORE_READ_STR_INTO (&%s.s, ", lv);
      ex (E, b, n->kid[0]);
      ex_core_fields (b, n);
      bs (b, "); ");
      return true;
    default:
      return false;
    }
}

/* The field list of a core-read: ", a, b" -- an embedded struct field
   joined to the next with '.'.  */
static void
ex_core_fields (struct buf *b, struct node *n)
{
  for (int i = 1; i < n->nkid; i++)
    bf (b, n->kid[i - 1]->uneg && i > 1 ? ".%s" : ", %s", n->kid[i]->name);
}

/* A read value as an expression: a zeroed temporary, read into.  */
static void
ex_read (struct emit *E, struct buf *b, struct node *n)
{
  char lv[32];
  snprintf (lv, sizeof lv, "__s%d", tmp (E));
  bf (b, "({ %s %s; __builtin_memset (&%s, 0, sizeof %s); ", tname (E, n->vt),
      lv, lv, lv);
  read_into (E, b, n->vt, lv, n);
  bf (b, "%s; })", lv);
}

static void
fill (struct emit *E, struct buf *b, const struct gebpf_type *t,
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
            fill (E, b, t->fields[i].type, flv, n->kid[i]);
          }
      return;
    }
  if (t->kind == GT_PREFIX && (n->ty == TY_IPV4 || n->ty == TY_IPV6))
    {
      bf (b, "%s.prefixlen = %d; %s.addr = ", lv,
          t->elem->kind == GT_IPV4 ? 32 : 128, lv);
      ex (E, b, n);
      bs (b, "; ");
      return;
    }
  if (t->kind == GT_STRING && n->ty == TY_STR)
    {
      size_t len = strlen (n->name);
      bf (b, "__builtin_memcpy (%s.s, ", lv);
      c_string (b, n->name);
      bf (b, ", %zu); ", len + 1 <= t->count ? len + 1 : t->count);
      return;
    }
  if (t->kind == GT_STRING && n->ty == TY_VALUE && n->vt != t)
    {
      int k = tmp (E);
      bf (b, "{ __auto_type __s%d = ", k);
      ex (E, b, n);
      bf (b, "; __builtin_memcpy (%s.s, __s%d.s, sizeof %s.s < sizeof __s%d.s "
          "? sizeof %s.s : sizeof __s%d.s); } ", lv, k, lv, k, lv, k);
      return;
    }
  bf (b, "%s = ", lv);
  ex_to (E, b, t, n);
  bs (b, "; ");
}

/* Declare and fill a zeroed variable of type T named __kN; return N.  */
static int
materialize (struct emit *E, struct buf *b, const struct gebpf_type *t,
             struct node *n)
{
  int k = tmp (E);
  char lv[32];
  snprintf (lv, sizeof lv, "__k%d", k);
  bf (b, "%s %s; __builtin_memset (&%s, 0, sizeof %s); ", tname (E, t), lv,
      lv, lv);
  fill (E, b, t, lv, n);
  return k;
}

static struct gebpf_map *
mapof (struct node *n)
{
  return scm_foreign_object_ref (n->ref, 0);
}

static const char *
mapname (struct node *n)
{
  return uid (mapof (n)->cname);
}

static void
body_seq (struct emit *E, struct buf *b, struct node *seq, int from,
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
          ex (E, b, k);
          bs (b, ";");
        }
      else
        {
          bs (b, "\t(void)");
          ex (E, b, k);
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
          ex (E, b, k);
          bs (b, ";");
        }
      else
        {
          bs (b, "\t(void)");
          ex (E, b, k);
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
      ex (E, b, n);
    }
  else
    {
      bs (b, "(void)");
      ex (E, b, n);
    }
  bs (b, "; }");
}

static const char *
packet_data (struct emit *E)
{
  return E->L->kind == PK_XDP ? "(void *)(long)ctx->data"
    : "(void *)(long)ctx->data";
}

static const char *
packet_end (struct emit *E)
{
  (void) E;
  return "(void *)(long)ctx->data_end";
}

/* Header pointer of a packet form.  */
static void
ex_header (struct emit *E, struct buf *b, struct node *n)
{
  int kind = E->L->kind;
  bool l3 = kind == PK_CGROUP_SKB;
  bool sf = kind == PK_SOCKET_FILTER;
  const char *d = packet_data (E), *e = packet_end (E);
  struct node *arg = n->kid[0];
  switch (n->op)
    {
    case OP_PKT_ETH:
      if (sf)
        {
          bs (b, "((struct ethhdr *)gebpf_sf_load (ctx, 0, &__sf_eth, "
              "sizeof __sf_eth, BPF_HDR_START_MAC))");
          return;
        }
      if (l3)
        {
          bs (b, "((struct ethhdr *)0)");
          return;
        }
      bf (b, "gebpf_eth (%s, %s)", d, e);
      return;
    case OP_PKT_IPV4:
      if (sf)
        bs (b, "gebpf_sf_ip4 (ctx, &__sf_ip4)");
      else if (l3)
        bf (b, "gebpf_ip4_l3 (%s, %s, ctx->protocol)", d, e);
      else
        bf (b, "gebpf_ip4 (%s, %s)", d, e);
      return;
    case OP_PKT_IPV6:
      if (sf)
        bs (b, "gebpf_sf_ip6 (ctx, &__sf_ip6)");
      else if (l3)
        bf (b, "gebpf_ip6_l3 (%s, %s, ctx->protocol)", d, e);
      else
        bf (b, "gebpf_ip6 (%s, %s)", d, e);
      return;
    default:
      break;
    }
  const char *st = n->op == OP_PKT_TCP ? "struct tcphdr"
    : n->op == OP_PKT_UDP ? "struct udphdr" : "struct icmphdr";
  int p4 = n->op == OP_PKT_TCP ? 6 : n->op == OP_PKT_UDP ? 17 : 1;
  int p6 = n->op == OP_PKT_TCP ? 6 : n->op == OP_PKT_UDP ? 17 : 58;
  const char *buf = n->op == OP_PKT_TCP ? "__sf_tcp"
    : n->op == OP_PKT_UDP ? "__sf_udp" : "__sf_icmp";
  if (arg->ty == TY_HDR)
    {
      /* (packet-tcp IP): from a header the program already has.  */
      if (sf)
        {
          bf (b, "((%s *)gebpf_sf_l4 (ctx, ", st);
          if (arg->hdr == H_IPV4)
            {
              ex (E, b, arg);
              bs (b, ", 0, ");
            }
          else
            {
              bs (b, "0, ");
              ex (E, b, arg);
              bs (b, ", ");
            }
          bf (b, "%d, %d, &%s, sizeof %s))", p4, p6, buf, buf);
          return;
        }
      bf (b, "((%s *)gebpf_l4_of_%s (", st, arg->hdr == H_IPV4 ? "ip4" : "ip6");
      ex (E, b, arg);
      bf (b, ", %s, %d, sizeof (%s)))", e, arg->hdr == H_IPV4 ? p4 : p6, st);
      return;
    }
  if (sf)
    bf (b, "((%s *)gebpf_sf_l4 (ctx, gebpf_sf_ip4 (ctx, &__sf_ip4), "
        "gebpf_sf_ip6 (ctx, &__sf_ip6), %d, %d, &%s, sizeof %s))",
        st, p4, p6, buf, buf);
  else if (l3)
    bf (b, "((%s *)gebpf_l4 (gebpf_ip4_l3 (%s, %s, ctx->protocol), "
        "gebpf_ip6_l3 (%s, %s, ctx->protocol), %s, %d, %d, sizeof (%s)))",
        st, d, e, d, e, e, p4, p6, st);
  else
    bf (b, "((%s *)gebpf_l4 (gebpf_ip4 (%s, %s), gebpf_ip6 (%s, %s), %s, "
        "%d, %d, sizeof (%s)))", st, d, e, d, e, e, p4, p6, st);
}

static void
ex_field (struct emit *E, struct buf *b, struct node *n)
{
  const struct hfield *f = gebpf_hfield (n->field);
  int k = tmp (E);
  bf (b, "({ __auto_type __h%d = ", k);
  ex (E, b, n->kid[0]);
  bf (b, "; ");
  char acc[128];
  snprintf (acc, sizeof acc, "__h%d->%s", k, f->c);
  switch (f->ty)
    {
    case TY_IPV4:
      bf (b, "__h%d ? %s : 0; })", k, acc);
      return;
    case TY_IPV6:
      bf (b, "__h%d ? %s : (struct in6_addr){}; })", k, acc);
      return;
    case TY_MAC:
      bf (b, "__h%d ? *(struct gebpf_mac *)%s : (struct gebpf_mac){}; })", k,
          acc);
      return;
    case TY_BOOL:
      bf (b, "__h%d ? (int)!!%s : 0; })", k, acc);
      return;
    default:
      break;
    }
  if (f->conv == 16)
    bf (b, "__h%d ? (__u64)bpf_ntohs (%s) : 0; })", k, acc);
  else if (f->conv == 32)
    bf (b, "__h%d ? (__u64)bpf_ntohl (%s) : 0; })", k, acc);
  else if (f->conv == 'F')
    bf (b, "__h%d ? (__u64)((__u8 *)__h%d)[13] : 0; })", k, k);
  else if (f->conv == 'l')
    bf (b, "__h%d ? (__u64)((__h%d->flow_lbl[0] & 0xf) << 16 | "
        "__h%d->flow_lbl[1] << 8 | __h%d->flow_lbl[2]) : 0; })", k, k, k, k);
  else
    bf (b, "__h%d ? (__u64)%s : 0; })", k, acc);
}

/* ---- packet writes ---------------------------------------------------- */

/* (set-field! H 'F V): V in the accessors' representation (host order
   for integers; mac, ipv4 and ipv6 as in the packet) stored at F, with
   the 16-bit words covering F read before and after the store so that
   gebpf_fix_HDR can update the checksums incrementally (RFC 1624).  */
static void
ex_set_field (struct emit *E, struct buf *b, struct node *n)
{
  static const char *fixes[] = { [H_IPV4] = "ip4", [H_IPV6] = "ip6",
                                 [H_TCP] = "tcp", [H_UDP] = "udp",
                                 [H_ICMP] = "icmp" };
  const struct sfield *f = gebpf_sfield (n->field);
  if (E->in_inline)
    gebpf_lower_error (E->L, n, "write packets in the program's body",
                       "set-field! inside define-bpf-inline");
  int k = tmp (E);
  bf (b, "({ __auto_type __h%d = ", k);
  ex (E, b, n->kid[0]);
  bs (b, "; ");
  switch (f->ty)
    {
    case TY_MAC:
      bf (b, "struct gebpf_mac __n%d = ", k);
      ex (E, b, n->kid[2]);
      break;
    case TY_IPV4:
      bf (b, "__be32 __n%d = ", k);
      ex (E, b, n->kid[2]);
      break;
    case TY_IPV6:
      bf (b, "struct in6_addr __n%d = ", k);
      ex (E, b, n->kid[2]);
      break;
    default:
      if (f->mask)
        {
          /* A flag bit: true sets it, false clears it.  */
          bf (b, "__u8 __n%d = (", k);
          ex_int (E, b, n->kid[2]);
          bf (b, ") ? 0x%02x : 0", f->mask);
          break;
        }
      bf (b, "__u%d __n%d = %s((__u%d)", f->size * 8, k,
          f->conv == 16 ? "bpf_htons " : f->conv == 32 ? "bpf_htonl " : "",
          f->size * 8);
      ex_int (E, b, n->kid[2]);
      bs (b, ")");
      break;
    }
  bf (b, "; if (__h%d) { ", k);
  int woff = f->off & ~1, wend = (f->off + f->size + 1) & ~1;
  int nw = (wend - woff) / 2;
  bool fix = f->csum == SF_COVERED || f->csum == SF_PSEUDO;
  if (fix)
    bf (b, "__u16 __o%d[%d], __w%d[%d]; __builtin_memcpy (__o%d, "
        "(__u8 *)__h%d + %d, %d); ", k, nw, k, nw, k, k, woff, nw * 2);
  if (f->mask)
    bf (b, "__n%d |= ((__u8 *)__h%d)[%d] & 0x%02x; ", k, k, f->off,
        ~f->mask & 0xff);
  bf (b, "__builtin_memcpy ((__u8 *)__h%d + %d, &__n%d, %d); ", k, f->off, k,
      f->size);
  if (fix)
    bf (b, "__builtin_memcpy (__w%d, (__u8 *)__h%d + %d, %d); "
        "gebpf_fix_%s (__h%d, %s, __o%d, __w%d, %d, %d); ", k, k, woff,
        nw * 2, fixes[f->hdr], k, packet_end (E), k, k, nw,
        f->csum == SF_PSEUDO);
  bs (b, "} })");
}

static void
ex_packet_write (struct emit *E, struct buf *b, struct node *n)
{
  switch (n->op)
    {
    case OP_SET_FIELD:
      ex_set_field (E, b, n);
      return;
    case OP_XDP_ADJUST_HEAD:
    case OP_XDP_ADJUST_TAIL:
      if (E->in_inline)
        gebpf_lower_error (E->L, n, "adjust the packet in the program's body",
                           "%s inside define-bpf-inline", n->name);
      bf (b, "((__s64)bpf_xdp_adjust_%s (ctx, (int)",
          n->op == OP_XDP_ADJUST_HEAD ? "head" : "tail");
      ex_int (E, b, n->kid[1]);
      bs (b, "))");
      return;
    case OP_REDIRECT:
      bs (b, "((__u64)(__u32)bpf_redirect ((__u32)");
      ex_int (E, b, n->kid[0]);
      bs (b, ", 0))");
      return;
    case OP_REDIRECT_MAP:
      /* Flags 0: a missing key aborts (XDP_ABORTED) rather than passes.  */
      bf (b, "((__u64)(__u32)bpf_redirect_map (&%s, (__u32)",
          mapname (n->kid[0]));
      ex_int (E, b, n->kid[1]);
      bs (b, ", 0))");
      return;
    default:
      return;
    }
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
      ex_int (E, b, n->kid[0]);
      bs (b, ")");
      return;
    }
  bs (b, "(");
  for (int i = 0; i < n->nkid; i++)
    {
      if (i)
        bf (b, " %s ", op);
      bs (b, cast);
      ex_int (E, b, n->kid[i]);
    }
  bs (b, ")");
}

static void
ex_minmax (struct emit *E, struct buf *b, struct node *n, const char *m)
{
  for (int i = 0; i < n->nkid - 1; i++)
    bf (b, "%s (", m);
  ex_int (E, b, n->kid[0]);
  for (int i = 1; i < n->nkid; i++)
    {
      bs (b, ", ");
      ex_int (E, b, n->kid[i]);
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
      int k = tmp (E);
      bf (b, "({ __auto_type __v%d = ", k);
      ex (E, b, v);
      bf (b, "; %sgebpf_str_eq (__v%d.s, sizeof __v%d.s, ",
          n->op == OP_NE ? "!" : "", k, k);
      c_string (b, s->name);
      bf (b, ", %zu); })", strlen (s->name));
      return;
    }
  if (a->ty == TY_IPV6 || a->ty == TY_MAC)
    {
      bf (b, "(%s", n->op == OP_NE ? "!" : "");
      if (a->ty == TY_IPV6)
        {
          bs (b, "gebpf_ip6_eq (");
          ex (E, b, a);
          bs (b, ", ");
          ex (E, b, c);
          bs (b, "))");
        }
      else
        {
          int k = tmp (E);
          bf (b, "({ struct gebpf_mac __m%d = ", k);
          ex (E, b, a);
          bf (b, ", __n%d = ", k);
          ex (E, b, c);
          bf (b, "; gebpf_bytes_eq (&__m%d, &__n%d, 6); }))", k, k);
        }
      return;
    }
  if (a->ty == TY_IPV4 && c->ty == TY_IPV4 && (n->op == OP_EQ || n->op == OP_NE))
    {
      bs (b, "(");
      ex (E, b, a);
      bf (b, " %s ", op);
      ex (E, b, c);
      bs (b, ")");
      return;
    }
  const char *cast = a->is_signed || c->is_signed ? "(__s64)" : "(__u64)";
  bf (b, "(%s", cast);
  ex_int (E, b, a);
  bf (b, " %s %s", op, cast);
  ex_int (E, b, c);
  bs (b, ")");
}

/* Value-producing conditionals go through a result variable.  */
static void
ex_if (struct emit *E, struct buf *b, struct node *n)
{
  int r = has_value (n) ? tmp (E) : -1;
  bs (b, "({ ");
  if (r >= 0)
    bf (b, "%s __r%d; __builtin_memset (&__r%d, 0, sizeof __r%d); ",
        ctype (E, n), r, r, r);
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
  int r = has_value (n) ? tmp (E) : -1;
  bs (b, "({ ");
  if (r >= 0)
    bf (b, "%s __r%d; __builtin_memset (&__r%d, 0, sizeof __r%d); ",
        ctype (E, n), r, r, r);
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
          int t = tmp (E);
          bf (b, "{ __auto_type __t%d = ", t);
          ex (E, b, cl->kid[0]);
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

static void
ex_map_access (struct emit *E, struct buf *b, struct node *n)
{
  struct gebpf_map *m = mapof (n->kid[0]);
  const char *mn = mapname (n->kid[0]);
  const struct gebpf_type *kt = m->hist_keyed ? m->hist_key : m->key;
  bs (b, "({ ");
  int k = materialize (E, b, kt, n->kid[1]);
  switch (n->op)
    {
    case OP_MAP_GET:
      bf (b, "(%s *)bpf_map_lookup_elem (&%s, &__k%d); })",
          tname (E, m->value), mn, k);
      return;
    case OP_MAP_REF:
      {
        int p = tmp (E);
        bf (b, "%s *__p%d = bpf_map_lookup_elem (&%s, &__k%d); ",
            tname (E, m->value), p, mn, k);
        char lv[32];
        snprintf (lv, sizeof lv, "(*__p%d)", p);
        bf (b, "__p%d ? ", p);
        ex_from (E, b, m->value, lv);
        bs (b, " : ");
        if (n->nkid == 3)
          {
            if (gebpf_value_ty (m->value) == TY_INT)
              ex_int (E, b, n->kid[2]);
            else
              ex (E, b, n->kid[2]);
          }
        else if (gebpf_value_ty (m->value) == TY_INT
                 || gebpf_value_ty (m->value) == TY_BOOL
                 || gebpf_value_ty (m->value) == TY_IPV4)
          bs (b, "0");
        else
          bf (b, "(%s){}", tname (E, m->value));
        bs (b, "; })");
        return;
      }
    case OP_MAP_SET:
      {
        int v = materialize (E, b, m->value, n->kid[2]);
        bf (b, "bpf_map_update_elem (&%s, &__k%d, &__k%d, BPF_ANY); })",
            mn, k, v);
        return;
      }
    case OP_MAP_DELETE:
      bf (b, "bpf_map_delete_elem (&%s, &__k%d); })", mn, k);
      return;
    case OP_MAP_INC:
      {
        /* Arrays always hold the entry; per-CPU values need no atomics
           (the hand-written idiom, and ~25 fewer instructions).  */
        bool array = m->map_type == BPF_MAP_TYPE_ARRAY
          || m->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
        bool percpu = gebpf_map_percpu (m);
        const char *mac = array ? (percpu ? "GEBPF_ARRAY_ADD" : "GEBPF_ARRAY_ADD_ATOMIC")
          : percpu ? "GEBPF_PERCPU_INC" : "GEBPF_MAP_INC";
        bf (b, "%s (&%s, &__k%d, ", mac, mn, k);
      }
      if (n->nkid == 3)
        ex_int (E, b, n->kid[2]);
      else
        bs (b, "1");
      bf (b, ", %s); })", tname (E, m->value));
      return;
    default:
      return;
    }
}

static void
ex_hist (struct emit *E, struct buf *b, struct node *n)
{
  struct gebpf_map *m = mapof (n->kid[0]);
  const char *mn = mapname (n->kid[0]);
  struct node *v = n->op == OP_HIST ? n->kid[n->nkid - 1] : n->kid[1];
  bs (b, "({ __u32 __slot = ");
  if (n->op == OP_HIST)
    {
      bs (b, "gebpf_log2_bucket (");
      ex_int (E, b, v);
      bs (b, ")");
    }
  else
    {
      bs (b, v->is_signed ? "gebpf_lin_bucket_s (" : "gebpf_lin_bucket (");
      ex_int (E, b, v);
      bf (b, ", %llu, %llu, %llu)", (unsigned long long) n->kid[2]->ival,
          (unsigned long long) n->kid[3]->ival,
          (unsigned long long) n->kid[4]->ival);
    }
  bs (b, "; ");
  if (m->hist_keyed)
    {
      int k = tmp (E);
      bf (b, "struct gebpf_hk_%s __hk%d; __builtin_memset (&__hk%d, 0, "
          "sizeof __hk%d); ", m->cname, k, k, k);
      char lv[48];
      snprintf (lv, sizeof lv, "__hk%d.key", k);
      fill (E, b, m->hist_key, lv, n->kid[1]);
      bf (b, "__hk%d.slot = __slot; gebpf_hist_keyed (&%s, &__hk%d); })", k,
          mn, k);
    }
  else
    bf (b, "gebpf_hist_slot (&%s, __slot); })", mn);
}

/* (read-user PTR 'T) / (read-kernel PTR 'T) as a value: a zeroed
   temporary read into (left zero when the read faults), then converted
   as a map value of T would be.  */
static void
ex_read_typed (struct emit *E, struct buf *b, struct node *n)
{
  char lv[32];
  snprintf (lv, sizeof lv, "__s%d", tmp (E));
  bf (b, "({ %s %s; __builtin_memset (&%s, 0, sizeof %s); ", tname (E, n->vt),
      lv, lv, lv);
  read_into (E, b, n->vt, lv, n);
  ex_from (E, b, n->vt, lv);
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
      int k = tmp (E);
      char lv[32];
      snprintf (lv, sizeof lv, "__t%d", k);
      snprintf (arr, size, "%s.s", lv);
      bf (b, "%s %s; __builtin_memset (&%s, 0, sizeof %s); ",
          tname (E, n->vt), lv, lv, lv);
      if (!read_into (E, b, n->vt, lv, n))
        {
          bf (b, "%s = ", lv);
          ex (E, b, n);
          bs (b, "; ");
        }
    }
}

static void
ex_string_test (struct emit *E, struct buf *b, struct node *n)
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
          c_string (b, k->name);
          bf (b, ", %zu", strlen (k->name) + 1);
        }
      else
        bf (b, "%s, sizeof %s", i ? c : a, i ? c : a);
    }
  bf (b, ", %d); })", n->op == OP_STRING_PREFIX);
}

static void
ex_arg (struct emit *E, struct buf *b, struct node *n)
{
  int kind = E->L->kind;
  if (kind == PK_TRACEPOINT && (n->slot == 1 || n->slot == 2))
    {
      ex_read (E, b, n);
      return;
    }
  if (kind == PK_TRACEPOINT)
    {
      /* bounds.c put the field's offset, size and signedness here.  */
      const char *t = n->ival == 1 ? "8" : n->ival == 2 ? "16"
        : n->ival == 4 ? "32" : "64";
      bf (b, "((%s)*(%s%s *)((char *)ctx + %d))",
          n->is_signed ? "__s64" : "__u64", n->is_signed ? "__s" : "__u", t,
          n->field);
      return;
    }
  long pos = n->kid[1]->ival;
  switch (kind)
    {
    case PK_RAW_TRACEPOINT:
      bf (b, "((__u64)ctx->args[%ld])", pos);
      return;
    case PK_TP_BTF: case PK_FENTRY: case PK_FEXIT: case PK_LSM:
      bf (b, "((__u64)((__u64 *)ctx)[%ld])", pos);
      return;
    default:
      bf (b, "((__u64)PT_REGS_PARM%ld (ctx))", pos + 1);
      return;
    }
}

static void
ex (struct emit *E, struct buf *b, struct node *n)
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
      c_string (b, n->name);
      return;
    case OP_LOCAL:
      bf (b, "v%d", n->slot);
      return;
    case OP_CTX:
      bs (b, "ctx");
      return;
    case OP_MAPREF:
      bf (b, "(&%s)", mapname (n));
      return;
    case OP_LET:
    case OP_LETSTAR:
      {
        struct node *bsn = n->kid[0];
        bs (b, "({ ");
        for (int i = 0; i < bsn->nkid; i++)
          {
            struct node *bd = bsn->kid[i];
            bf (b, "%s v%d = ", ctype (E, bd->kid[0]), bd->slot);
            ex (E, b, bd->kid[0]);
            bs (b, "; ");
          }
        body_seq (E, b, n->kid[1], 0, true);
        bs (b, " })");
        return;
      }
    case OP_BEGIN:
      bs (b, "({ ");
      body_seq (E, b, n, 0, true);
      bs (b, " })");
      return;
    case OP_SET:
      bf (b, "({ v%d = ", n->slot);
      ex (E, b, n->kid[0]);
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
        int r = has_value (n) ? tmp (E) : -1;
        int k = tmp (E);
        bf (b, "({ __u64 __c%d = ", k);
        ex_int (E, b, n->kid[0]);
        bs (b, "; ");
        if (r >= 0)
          bf (b, "%s __r%d; __builtin_memset (&__r%d, 0, sizeof __r%d); ",
              ctype (E, n), r, r, r);
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
          ex_int (E, b, n->kid[0]);
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
      ex_int (E, b, n->kid[0]);
      bs (b, n->op == OP_DIV ? " / (__u64)" : " % (__u64)");
      ex_int (E, b, n->kid[1]);
      bs (b, ")");
      return;
    case OP_MIN: ex_minmax (E, b, n, "GEBPF_MIN"); return;
    case OP_MAX: ex_minmax (E, b, n, "GEBPF_MAX"); return;
    case OP_LOGAND: ex_arith (E, b, n, "&"); return;
    case OP_LOGIOR: ex_arith (E, b, n, "|"); return;
    case OP_LOGXOR: ex_arith (E, b, n, "^"); return;
    case OP_LOGNOT:
      bs (b, "(~(__u64)");
      ex_int (E, b, n->kid[0]);
      bs (b, ")");
      return;
    case OP_ASH:
      {
        struct node *sh = n->kid[1];
        if (sh->op == OP_INT)
          {
            bs (b, "((__u64)");
            ex_int (E, b, n->kid[0]);
            if (sh->uneg)
              bf (b, " >> %lld)", (long long) -sh->ival);
            else
              bf (b, " << %lld)", (long long) sh->ival);
            return;
          }
        int k = tmp (E);
        bf (b, "({ __u64 __a%d = ", k);
        ex_int (E, b, n->kid[0]);
        bf (b, "; __s64 __s%d = (__s64)", k);
        ex_int (E, b, sh);
        bf (b, "; __s%d >= 0 ? __a%d << (__s%d & 63) : __a%d >> (-__s%d & 63); })",
            k, k, k, k, k);
        return;
      }
    case OP_EQ: case OP_NE: case OP_LT: case OP_GT: case OP_LE: case OP_GE:
      ex_compare (E, b, n);
      return;
    case OP_ZEROP:
      bs (b, "(");
      ex_int (E, b, n->kid[0]);
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
      ex_read (E, b, n);
      return;
    case OP_STRING_EQ:
    case OP_STRING_PREFIX:
      ex_string_test (E, b, n);
      return;
    case OP_READ_USER:
    case OP_READ_KERNEL:
      ex_read_typed (E, b, n);
      return;
    case OP_MAP_GET: case OP_MAP_REF: case OP_MAP_SET: case OP_MAP_DELETE:
    case OP_MAP_INC:
      ex_map_access (E, b, n);
      return;
    case OP_HIST:
    case OP_LHIST:
      ex_hist (E, b, n);
      return;
    case OP_PROTO:
      if (E->L->kind == PK_SOCKET_FILTER)
        bs (b, "((__u64)gebpf_l4proto (gebpf_sf_ip4 (ctx, &__sf_ip4), "
            "gebpf_sf_ip6 (ctx, &__sf_ip6)))");
      else if (E->L->kind == PK_CGROUP_SKB)
        bf (b, "((__u64)gebpf_l4proto (gebpf_ip4_l3 (%s, %s, ctx->protocol), "
            "gebpf_ip6_l3 (%s, %s, ctx->protocol)))", packet_data (E),
            packet_end (E), packet_data (E), packet_end (E));
      else
        bf (b, "((__u64)gebpf_l4proto (gebpf_ip4 (%s, %s), gebpf_ip6 (%s, %s)))",
            packet_data (E), packet_end (E), packet_data (E), packet_end (E));
      return;
    case OP_PKT_ETH: case OP_PKT_IPV4: case OP_PKT_IPV6: case OP_PKT_TCP:
    case OP_PKT_UDP: case OP_PKT_ICMP:
      ex_header (E, b, n);
      return;
    case OP_FIELD:
      ex_field (E, b, n);
      return;
    case OP_SET_FIELD: case OP_XDP_ADJUST_HEAD: case OP_XDP_ADJUST_TAIL:
    case OP_REDIRECT: case OP_REDIRECT_MAP:
      ex_packet_write (E, b, n);
      return;
    case OP_FRAGP:
      {
        int k = tmp (E);
        bf (b, "({ __auto_type __h%d = ", k);
        ex (E, b, n->kid[0]);
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
    case OP_ARG:
      ex_arg (E, b, n);
      return;
    case OP_RETVAL:
      if (E->L->kind == PK_FEXIT)
        bf (b, "((__s64)((__u64 *)ctx)[%d])", n->field);
      else if (E->L->kind == PK_TRACEPOINT)
        bf (b, "((__s64)*(__s64 *)((char *)ctx + %d))", n->field);
      else
        bs (b, "((__s64)PT_REGS_RC (ctx))");
      return;
    case OP_CURRENT_TASK:
      gpl_only (E, n, "bpf_get_current_task");
      bs (b, "((struct task_struct___gebpf *)bpf_get_current_task ())");
      return;
    case OP_CORE_READ:
      {
        if (n->field == 1)
          {
            ex_read (E, b, n);
            return;
          }
        gpl_only (E, n, "bpf_probe_read_kernel");
        bs (b, n->ty == TY_INT ? (n->is_signed ? "((__s64)BPF_CORE_READ ("
                                  : "((__u64)BPF_CORE_READ (")
            : "(BPF_CORE_READ (");
        ex (E, b, n->kid[0]);
        ex_core_fields (b, n);
        bs (b, "))");
        return;
      }
    case OP_READ_USER_STR:
    case OP_READ_KERNEL_STR:
      ex_read (E, b, n);
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
        struct gebpf_map *m = mapof (n->kid[0]);
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
        int k = tmp (E);
        char lv[32];
        snprintf (lv, sizeof lv, "__e%d", k);
        /* Zeroed, then filled in place: padding is defined and a struct
           is not copied through the small BPF stack.  */
        bf (b, "({ %s %s; __builtin_memset (&%s, 0, sizeof %s); ",
            tname (E, wt), lv, lv, lv);
        fill (E, b, wt, lv, v);
        if (n->op == OP_EMIT)
          {
            char def[300];
            snprintf (def, sizeof def, "} %s SEC(\".maps\");", ctl);
            if (!E->maps.p || !strstr (E->maps.p, def))
              bf (&E->maps, "/* emit! into %s: records dropped (slot 0) and "
                  "output flags (slot 1) */\nstruct {\n"
                  "\t__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);\n"
                  "\t__uint(max_entries, 2);\n\t__type(key, __u32);\n"
                  "\t__type(value, __u64);\n%s\n\n",
                  m->name, def);
            bf (b, "; gebpf_ringbuf_emit (&%s, &%s, &__e%d, sizeof __e%d); })",
                mapname (n->kid[0]), ctl, k, k);
          }
        else
          {
            gpl_only (E, n, "bpf_perf_event_output");
            bf (b, "; bpf_perf_event_output (ctx, &%s, BPF_F_CURRENT_CPU, "
                "&__e%d, sizeof __e%d); })", mapname (n->kid[0]), k, k);
          }
        return;
      }
    case OP_PRINTK:
      {
        int k = tmp (E);
        bs (b, "({ ");
        for (int i = 1; i < n->nkid; i++)
          {
            bf (b, "__auto_type __a%d_%d = ", k, i);
            if (n->kid[i]->ty == TY_VALUE)
              ex (E, b, n->kid[i]);
            else
              ex_int (E, b, n->kid[i]);
            bs (b, "; ");
          }
        gpl_only (E, n, "bpf_trace_printk");
        bs (b, "bpf_printk (");
        c_string (b, n->kid[0]->name);
        for (int i = 1; i < n->nkid; i++)
          bf (b, n->kid[i]->ty == TY_VALUE ? ", __a%d_%d.s" : ", __a%d_%d",
              k, i);
        bs (b, "); })");
        return;
      }
    case OP_MAKE_STRUCT:
      {
        int k = tmp (E);
        const char *t = tname (E, n->st);
        bf (b, "({ %s __s%d; __builtin_memset (&__s%d, 0, sizeof __s%d); ",
            t, k, k, k);
        for (int i = 0; i < n->nkid; i++)
          if (n->kid[i])
            {
              char lv[160];
              snprintf (lv, sizeof lv, "__s%d.%s", k,
                        uid (n->st->fields[i].cname));
              fill (E, b, n->st->fields[i].type, lv, n->kid[i]);
            }
        bf (b, "__s%d; })", k);
        return;
      }
    case OP_STRUCT_REF:
      {
        struct node *v = n->kid[0];
        const struct gebpf_field *f = &n->st->fields[n->field];
        int k = tmp (E);
        char lv[160];
        bf (b, "({ __auto_type __v%d = ", k);
        ex (E, b, v);
        bs (b, "; ");
        if (v->ty == TY_VALPTR)
          {
            snprintf (lv, sizeof lv, "__v%d->%s", k, uid (f->cname));
            bf (b, "__v%d ? ", k);
            ex_from (E, b, f->type, lv);
            if (n->ty == TY_INT || n->ty == TY_BOOL || n->ty == TY_IPV4)
              bs (b, " : 0; })");
            else
              bf (b, " : (%s){}; })", tname (E, f->type));
          }
        else
          {
            snprintf (lv, sizeof lv, "__v%d.%s", k, uid (f->cname));
            ex_from (E, b, f->type, lv);
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
      gpl_only (E, n, "bpf_get_stackid");
      bs (b, "((__s64)bpf_get_stackid (ctx, ");
      ex (E, b, n->kid[1]);
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
      gpl_only (E, n, "bpf_get_stackid");
      bs (b, "((__u64)(__u32)bpf_get_stackid (ctx, ");
      ex (E, b, n->kid[0]);
      bs (b, ", 0))");
      return;
    case OP_USTACK:
      /* The process id rides along: user frames are named from the
         files that process maps.  */
      gpl_only (E, n, "bpf_get_stackid");
      bs (b, "(((bpf_get_current_pid_tgid () >> 32) << 32) "
          "| (__u64)(__u32)bpf_get_stackid (ctx, ");
      ex (E, b, n->kid[0]);
      bs (b, ", BPF_F_USER_STACK))");
      return;
    case OP_INLINE_CALL:
      bf (b, "%s (", n->name);
      for (int i = 0; i < n->nkid; i++)
        {
          if (i)
            bs (b, ", ");
          ex (E, b, n->kid[i]);
        }
      bs (b, ")");
      return;
    default:
      gebpf_lower_error (E->L, n, "report this form", "cannot emit %s",
                         gebpf_op_name (n->op));
    }
}

/* ---- the program ------------------------------------------------------ */

/* Whether the target of a program of kind KIND is pasted into its
   section name (and so into C).  */
static bool
target_in_section (int kind)
{
  const struct gebpf_kind *k = gebpf_kind (kind);
  return k && k->section && strstr (k->section, "%s") != NULL;
}

/* A target reaches C inside SEC("...") and names files under tracefs:
   it may hold only what a section name of its kind holds -- function,
   tracepoint and hook names, "+OFFSET", ':' or '/' between category and
   name, and glob characters -- never a quote, backslash, space, control
   character or "..".  Targets that stay out of C (interfaces, uprobe
   paths) only may not hold control characters.  */
void
gebpf_check_target (struct lower *L)
{
  const char *t = L->target;
  if (!t)
    return;
  bool pasted = target_in_section (L->kind);
  size_t len = strlen (t);
  const char *bad = NULL;
  for (const unsigned char *p = (const unsigned char *) t; *p && !bad; p++)
    {
      bool ok = *p >= 32 && *p != 127;
      if (pasted)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
          || (*p >= '0' && *p <= '9') || strchr ("_-.:/+*?[]!@,", *p);
      if (!ok)
        bad = (const char *) p;
    }
  /* A list "A,B,..." (a program's targets) stays out of SEC(): each
     of its names is bounded, not the whole.  */
  size_t max = strchr (t, ',') ? 4095 : 255;
  if (bad || len == 0 || len > max || (pasted && strstr (t, "..")))
    {
      char what[64] = "";
      if (bad)
        snprintf (what, sizeof what, " (character %ld is %s)",
                  (long) (bad - t), *bad == '"' ? "a quote"
                  : *bad == '\\' ? "a backslash"
                  : (unsigned char) *bad < 32 ? "a control character"
                  : "not allowed");
      else if (len == 0 || len > 255)
        snprintf (what, sizeof what, " (%zu bytes; 1 to %zu allowed)", len,
                  max);
      else
        snprintf (what, sizeof what, " (it holds \"..\")");
      gebpf_error (gebpf_k_validation, "bpf-fn->c", 0,
                   pasted
                   ? "give a function, tracepoint or hook name: letters, "
                   "digits and _-.:/+@, or a glob of them"
                   : "give the target without control characters",
                   "bpf-fn %s: invalid %s target %s%s", L->fname,
                   gebpf_sym_name (gebpf_prog_kinds, L->kind),
                   gebpf_repr (scm_from_utf8_string (t)), what);
    }
}

static void
section_name (struct emit *E, char *out, size_t size)
{
  const struct gebpf_kind *k = &gebpf_kinds[E->L->kind];
  const char *t = E->L->target;
  if (!strstr (k->section, "%s"))
    {
      snprintf (out, size, "%s", k->section);
      return;
    }
  char tgt[256] = "";
  if (t)
    {
      snprintf (tgt, sizeof tgt, "%s", t);
      for (char *p = tgt; *p; p++)
        if (*p == ':')
          *p = '/';
    }
  if (!t && k->default_attach)
    snprintf (tgt, sizeof tgt, "%s", k->default_attach);
  /* A glob, or a list "A,B" (looked for in all of it, not the copy).  */
  bool glob = strpbrk (tgt, "*?[") != NULL || (t && strchr (t, ','));
  if (!tgt[0] || glob)
    {
      /* No single target: the bare section; the loader attaches.  */
      snprintf (out, size, "%.*s", (int) (strchr (k->section, '/')
                                         - k->section), k->section);
      return;
    }
  snprintf (out, size, k->section, tgt);
}

static void
emit_map (struct emit *E, struct gebpf_map *m)
{
  struct buf *b = &E->maps;
  static const char *types[] = {
    [BPF_MAP_TYPE_HASH] = "BPF_MAP_TYPE_HASH",
    [BPF_MAP_TYPE_ARRAY] = "BPF_MAP_TYPE_ARRAY",
    [BPF_MAP_TYPE_PROG_ARRAY] = "BPF_MAP_TYPE_PROG_ARRAY",
    [BPF_MAP_TYPE_PERF_EVENT_ARRAY] = "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
    [BPF_MAP_TYPE_PERCPU_HASH] = "BPF_MAP_TYPE_PERCPU_HASH",
    [BPF_MAP_TYPE_PERCPU_ARRAY] = "BPF_MAP_TYPE_PERCPU_ARRAY",
    [BPF_MAP_TYPE_STACK_TRACE] = "BPF_MAP_TYPE_STACK_TRACE",
    [BPF_MAP_TYPE_LRU_HASH] = "BPF_MAP_TYPE_LRU_HASH",
    [BPF_MAP_TYPE_LRU_PERCPU_HASH] = "BPF_MAP_TYPE_LRU_PERCPU_HASH",
    [BPF_MAP_TYPE_LPM_TRIE] = "BPF_MAP_TYPE_LPM_TRIE",
    [BPF_MAP_TYPE_ARRAY_OF_MAPS] = "BPF_MAP_TYPE_ARRAY_OF_MAPS",
    [BPF_MAP_TYPE_HASH_OF_MAPS] = "BPF_MAP_TYPE_HASH_OF_MAPS",
    [BPF_MAP_TYPE_DEVMAP] = "BPF_MAP_TYPE_DEVMAP",
    [BPF_MAP_TYPE_CPUMAP] = "BPF_MAP_TYPE_CPUMAP",
    [BPF_MAP_TYPE_DEVMAP_HASH] = "BPF_MAP_TYPE_DEVMAP_HASH",
    [BPF_MAP_TYPE_QUEUE] = "BPF_MAP_TYPE_QUEUE",
    [BPF_MAP_TYPE_STACK] = "BPF_MAP_TYPE_STACK",
    [BPF_MAP_TYPE_RINGBUF] = "BPF_MAP_TYPE_RINGBUF",
    [BPF_MAP_TYPE_BLOOM_FILTER] = "BPF_MAP_TYPE_BLOOM_FILTER",
  };
  const char *kt = NULL, *vt = NULL;
  if (m->hist_keyed)
    {
      bf (&E->types, "struct gebpf_hk_%s { %s key; __u32 slot; };\n",
          m->cname, tname (E, m->hist_key));
    }
  bool typed = m->map_type == BPF_MAP_TYPE_HASH
    || m->map_type == BPF_MAP_TYPE_ARRAY || m->map_type == BPF_MAP_TYPE_PERCPU_HASH
    || m->map_type == BPF_MAP_TYPE_PERCPU_ARRAY
    || m->map_type == BPF_MAP_TYPE_LRU_HASH
    || m->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH
    || m->map_type == BPF_MAP_TYPE_LPM_TRIE;
  if (typed)
    {
      kt = m->hist_keyed ? NULL : tname (E, m->key);
      vt = tname (E, m->value);
    }
  bf (b, "/* (defbpf-map %s #:kind '%s) */\nstruct {\n\t__uint(type, %s);\n"
      "\t__uint(max_entries, %u);\n", m->name, m->kind->name,
      types[m->map_type], m->max_entries);
  if (m->hist_keyed)
    bf (b, "\t__type(key, struct gebpf_hk_%s);\n", m->cname);
  else if (kt)
    bf (b, "\t__type(key, %s);\n", kt);
  else if (m->key_size)
    bf (b, "\t__uint(key_size, %u);\n", m->key_size);
  if (vt)
    bf (b, "\t__type(value, %s);\n", vt);
  else if (m->value && (m->map_type == BPF_MAP_TYPE_QUEUE
                        || m->map_type == BPF_MAP_TYPE_STACK
                        || m->map_type == BPF_MAP_TYPE_BLOOM_FILTER))
    bf (b, "\t__type(value, %s);\n", tname (E, m->value));
  else if (m->value_size)
    bf (b, "\t__uint(value_size, %u);\n", m->value_size);
  if (m->map_flags)
    bf (b, "\t__uint(map_flags, %u);\n", m->map_flags);
  /* The symbol (and so the BTF variable, the kernel's map name and
     what loaders such as bpfman see) is the user's NAME.  */
  bf (b, "} %s __asm__ (\"%s\") SEC(\".maps\");\n\n", uid (m->cname),
      m->cname);
}

static void
emit_inline (struct emit *E, struct inline_inst *in)
{
  struct buf *b = &E->inlines;
  struct buf body = { 0 };
  E->in_inline = true;
  bs (&body, "\treturn ({ ");
  body_seq (E, &body, in->body, 0, true);
  bs (&body, " });\n}\n\n");
  E->in_inline = false;
  struct node r = { .ty = in->rty, .vt = in->rvt, .hdr = in->rhdr };
  bf (b, "static __always_inline %s\n%s (",
      in->rty == TY_VOID ? "void" : ctype (E, &r), in->cname);
  for (int i = 0; i < in->nparams; i++)
    {
      struct node p = { .ty = in->pty[i], .vt = in->pvt[i], .hdr = in->phdr[i],
                        .is_signed = E->L->local_signed[in->slots[i]] };
      bf (b, "%s%s v%d", i ? ", " : "", ctype (E, &p), in->slots[i]);
    }
  if (!in->nparams)
    bs (b, "void");
  bs (b, ")\n{");
  if (in->rty == TY_VOID)
    {
      /* A void inline: no return of the statement expression's value.  */
      bs (b, "\n\t({ ");
      E->in_inline = true;
      body_seq (E, b, in->body, 0, false);
      E->in_inline = false;
      bs (b, " });\n}\n\n");
      return;
    }
  bput (b, body.p, body.len);
}

/* ---- CO-RE types: only the members the body reads ------------------- */

/* Local copies of kernel structs, named NAME___gebpf (libbpf ignores the
   ___ suffix when it matches them with the kernel's BTF) and marked
   preserve_access_index, so field offsets are relocated at load.  This
   replaces a 0.5 s include of the whole vmlinux.h.  */
static const char *
core_member_type (const struct btf *b, int id, char *buf, size_t size,
                  SCM *need)
{
  const struct btf_type *t = btf__type_by_id (b, id);
  while (t && (btf_is_typedef (t) || btf_is_mod (t)))
    {
      id = t->type;
      t = btf__type_by_id (b, id);
    }
  if (!t)
    return "__u64";
  if (btf_is_ptr (t))
    {
      int pid = t->type;
      const struct btf_type *pt = btf__type_by_id (b, pid);
      while (pt && (btf_is_typedef (pt) || btf_is_mod (pt)))
        {
          pid = pt->type;
          pt = btf__type_by_id (b, pid);
        }
      if (pt && (btf_is_struct (pt) || btf_is_union (pt))
          && *btf__name_by_offset (b, pt->name_off))
        {
          snprintf (buf, size, "%s %s___gebpf *",
                    btf_is_union (pt) ? "union" : "struct",
                    btf__name_by_offset (b, pt->name_off));
          return buf;
        }
      return "void *";
    }
  if (btf_is_struct (t) || btf_is_union (t))
    {
      *need = scm_cons (scm_from_int (id), *need);
      snprintf (buf, size, "%s %s___gebpf", btf_is_union (t) ? "union"
                : "struct", btf__name_by_offset (b, t->name_off));
      return buf;
    }
  if (btf_is_enum (t) || btf_is_int (t))
    {
      bool sgn = btf_is_int (t) && (btf_int_encoding (t) & BTF_INT_SIGNED);
      switch (t->size)
        {
        case 1: return sgn ? "__s8" : "__u8";
        case 2: return sgn ? "__s16" : "__u16";
        case 4: return sgn ? "__s32" : "__u32";
        default: return sgn ? "__s64" : "__u64";
        }
    }
  return "__u64";
}

/* The members of struct or union ID that the body reads, in the
   kernel's order, into BODY; anonymous members holding them are written
   inline.  Named struct types they need go to NEED.  */
static void
core_body (struct emit *E, const struct btf *b, int id, struct buf *body,
           SCM *need, int indent)
{
  const struct btf_type *t = btf__type_by_id (b, id);
  const struct btf_member *m = btf_members (t);
  for (int j = 0; j < btf_vlen (t); j++)
    {
      const char *mn = btf__name_by_offset (b, m[j].name_off);
      char anon[32];
      snprintf (anon, sizeof anon, "#anon%d", j);
      SCM key = scm_cons (scm_from_int (id),
                          scm_from_utf8_string (*mn ? mn : anon));
      if (scm_is_false (scm_member (key, E->L->core_members)))
        continue;
      if (!*mn)
        {
          int aid = m[j].type;
          const struct btf_type *at = btf__type_by_id (b, aid);
          while (at && (btf_is_typedef (at) || btf_is_mod (at)))
            {
              aid = at->type;
              at = btf__type_by_id (b, aid);
            }
          bf (body, "%*s%s {\n", indent, "",
              at && btf_is_union (at) ? "union" : "struct");
          core_body (E, b, aid, body, need, indent + 8);
          bf (body, "%*s};\n", indent, "");
          continue;
        }
      char tb[256];
      const struct btf_type *mt = btf__type_by_id (b, m[j].type);
      while (mt && (btf_is_typedef (mt) || btf_is_mod (mt)))
        mt = btf__type_by_id (b, mt->type);
      if (mt && btf_is_array (mt))
        {
          const struct btf_array *a = btf_array (mt);
          bf (body, "%*s%s %s[%u];\n", indent, "",
              core_member_type (b, a->type, tb, sizeof tb, need), mn,
              a->nelems);
        }
      else
        bf (body, "%*s%s %s;\n", indent, "",
            core_member_type (b, m[j].type, tb, sizeof tb, need), mn);
    }
}

static void
emit_core_struct (struct emit *E, const struct btf *b, int id, SCM *done)
{
  if (scm_is_true (scm_memv (scm_from_int (id), *done)))
    return;
  *done = scm_cons (scm_from_int (id), *done);
  const struct btf_type *t = btf__type_by_id (b, id);
  struct buf body = { 0 };
  SCM need = SCM_EOL;
  core_body (E, b, id, &body, &need, 8);
  for (SCM l = scm_reverse (need); scm_is_pair (l); l = SCM_CDR (l))
    emit_core_struct (E, b, scm_to_int (SCM_CAR (l)), done);
  bf (&E->types, "%s %s___gebpf {\n", btf_is_union (t) ? "union" : "struct",
      btf__name_by_offset (b, t->name_off));
  if (body.len)
    bput (&E->types, body.p, body.len);
  bs (&E->types, "} __attribute__((preserve_access_index));\n");
}

static void
emit_core_types (struct emit *E)
{
  struct btf *b = E->L->tgt.btf;
  if (!b)
    return;
  int task = btf__find_by_name_kind (b, "task_struct", BTF_KIND_STRUCT);
  SCM ids = SCM_EOL;
  for (SCM l = scm_reverse (E->L->core_members); scm_is_pair (l);
       l = SCM_CDR (l))
    if (scm_is_false (scm_memv (SCM_CAAR (l), ids)))
      ids = scm_cons (SCM_CAAR (l), ids);
  if (task > 0 && scm_is_false (scm_memv (scm_from_int (task), ids)))
    ids = scm_cons (scm_from_int (task), ids);
  /* Forward declarations first: pointers may name any of them.  */
  bs (&E->types, "/* Kernel types read with CO-RE (only the members used).  */\n");
  SCM done = SCM_EOL;
  for (SCM l = scm_reverse (ids); scm_is_pair (l); l = SCM_CDR (l))
    {
      const struct btf_type *t = btf__type_by_id (b, scm_to_int (SCM_CAR (l)));
      /* Anonymous members are written inline in their container.  */
      if (t && *btf__name_by_offset (b, t->name_off))
        emit_core_struct (E, b, scm_to_int (SCM_CAR (l)), &done);
    }
}

/* The license the kernel receives: the declared one, checked to be a
   short line of printable ASCII (it is written into C, escaped).  */
static const char *
license_of (struct lower *L)
{
  const char *lic = L->license ? L->license : "GPL";
  size_t len = strlen (lic);
  bool ok = len > 0 && len < 128;
  for (const unsigned char *p = (const unsigned char *) lic; *p && ok; p++)
    ok = *p >= 32 && *p < 127;
  if (!ok)
    gebpf_error (gebpf_k_validation, "bpf-fn->c", 0,
                 "write #:license as printable ASCII, e.g. \"GPL\"",
                 "bpf-fn %s: invalid license %s (1 to 127 printable "
                 "ASCII characters)", L->fname,
                 gebpf_repr (scm_from_utf8_string (lic)));
  return lic;
}

/* The SPDX identifier of a kernel license string, or NULL.  */
static const char *
spdx_of (const char *lic)
{
  static const char *const map[][2] = {
    {"GPL", "GPL-2.0"}, {"GPL v2", "GPL-2.0"},
    {"GPL and additional rights", "GPL-2.0+"},
    {"Dual BSD/GPL", "GPL-2.0 OR BSD-2-Clause"},
    {"Dual MIT/GPL", "GPL-2.0 OR MIT"}, {"Dual MPL/GPL", "GPL-2.0 OR MPL-1.1"},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp (lic, map[i][0]) == 0)
      return map[i][1];
  return NULL;
}

SCM
gebpf_emit (struct lower *L, SCM *linemap)
{
  struct emit E;
  memset (&E, 0, sizeof E);
  E.L = L;
  E.typedefs = SCM_EOL;
  E.linemap = SCM_EOL;

  license_of (L);
  if (L->uses_vmlinux)
    emit_core_types (&E);
  /* The body first: it registers the types it needs.  */
  struct buf *b = &E.body;
  if (L->kind == PK_SOCKET_FILTER && L->packet_layers)
    bs (b, "\tstruct ethhdr __sf_eth; struct iphdr __sf_ip4; "
        "struct ipv6hdr __sf_ip6;\n\tstruct tcphdr __sf_tcp; "
        "struct udphdr __sf_udp; struct icmphdr __sf_icmp;\n");
  body_seq (&E, b, L->body, 0, false);
  struct node *last = L->body->nkid ? L->body->kid[L->body->nkid - 1] : NULL;
  if (!last || last->op != OP_RETURN)
    bf (b, "\n\treturn %ld;", gebpf_default_return (L->kind));

  for (struct inline_inst *in = L->insts; in; in = in->next)
    emit_inline (&E, in);
  for (SCM l = scm_reverse (L->maps); scm_is_pair (l); l = SCM_CDR (l))
    emit_map (&E, scm_foreign_object_ref (SCM_CAR (l), 0));
  for (SCM l = scm_reverse (L->consts); scm_is_pair (l); l = SCM_CDR (l))
    {
      char *c = gebpf_c_ident (SCM_CAR (l), "bpf-fn", "const name");
      bf (&E.consts, "/* (const %s): set before load by #:constants */\n"
          "const volatile __u64 %s __asm__ (\"%s\") = 0;\n",
          gebpf_sym_str (SCM_CAR (l)), uid (c), c);
      free (c);
    }

  struct buf out = { 0 };
  const char *lic = license_of (L);
  if (spdx_of (lic))
    bf (&out, "// SPDX-License-Identifier: %s\n", spdx_of (lic));
  bf (&out, "/* Generated by guile-ebpf from (bpf-fn %s ...) for a %s "
      "program.  */\n", L->fname, gebpf_sym_name (gebpf_prog_kinds, L->kind));
  {
      bs (&out, "#include <linux/bpf.h>\n#include <linux/types.h>\n"
          "#include <linux/if_ether.h>\n#include <linux/in.h>\n"
          "#include <linux/in6.h>\n#include <linux/ip.h>\n"
          "#include <linux/ipv6.h>\n#include <linux/tcp.h>\n"
          "#include <linux/udp.h>\n");
      if (L->kind == PK_KPROBE || L->kind == PK_KRETPROBE
          || L->kind == PK_UPROBE || L->kind == PK_URETPROBE
          || L->kind == PK_USDT)
        bs (&out, "#include <linux/ptrace.h>\n");
      if (L->kind == PK_PERF_EVENT)
        bs (&out, "#include <linux/bpf_perf_event.h>\n");
      bs (&out, "#include <bpf/bpf_helpers.h>\n#include <bpf/bpf_endian.h>\n"
          "#include <bpf/bpf_tracing.h>\n");
      if (L->uses_vmlinux)
        bs (&out, "#include <bpf/bpf_core_read.h>\n");
      if (L->kind == PK_USDT)     /* usdt.bpf.h expects bool defined */
        bs (&out, "#include <stdbool.h>\n#include <bpf/usdt.bpf.h>\n");
    }
  bs (&out, "#include \"gebpf.h\"\n\n");
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
  c_string (&out, lic);
  bs (&out, ";\n\n");
  char sec[300];
  section_name (&E, sec, sizeof sec);
  /* The function is u_NAME in C, like every user identifier; its
     assembler name stays NAME, the program name libbpf and the kernel
     show and deploy looks up.  */
  bf (&out, "int %s(%sctx) __asm__ (\"%s\");\n\n", uid (L->fname),
      gebpf_kinds[L->kind].ctx, L->fname);
  bf (&out, "SEC(\"%s\")\nint %s(%sctx)\n{", sec, uid (L->fname),
      gebpf_kinds[L->kind].ctx);
  bput (&out, b->p, b->len);
  bs (&out, "\n}\n");

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
