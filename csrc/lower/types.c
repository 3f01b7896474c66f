/* types.c --- pass 3: a type on every node, and the type errors.

   Takes: the resolved AST.  Gives: every node's ty (and vt for values of
   declared types, hdr for packet headers, btf_id for kernel pointers),
   local variables' types, and one instance per signature of every
   define-bpf-inline that is called.  Raises ebpf-lower-error for
   pointers or strings in arithmetic, keys and values that do not fit a
   map, out-of-range literals, division by a constant zero, set! of a
   local with a value of another type, a circular inline.  The forms
   that name a map have their rules in types-map.c, CO-RE reads in
   types-core.c: this file walks the tree and hands those over.  */
#include <config.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "lower.h"
#include "../map.h"

static void type (struct lower *L, struct node *n);

enum ty
gebpf_value_ty (const struct gebpf_type *t)
{
  switch (t->kind)
    {
    case GT_U8: case GT_U16: case GT_U32: case GT_U64:
    case GT_I8: case GT_I16: case GT_I32: case GT_I64:
    case GT_BE16: case GT_BE32: case GT_BE64: case GT_UINT:
      return TY_INT;
    case GT_BOOL: return TY_BOOL;
    case GT_IPV4: return TY_IPV4;
    case GT_IPV6: return TY_IPV6;
    case GT_MAC: return TY_MAC;
    default: return TY_VALUE;
    }
}

static bool
truthy (enum ty t)
{
  return t == TY_INT || t == TY_BOOL || t == TY_HDR || t == TY_VALPTR
    || t == TY_KPTR || t == TY_IPV4;
}

const char *
gebpf_tyname (enum ty t)
{
  switch (t)
    {
    case TY_INT: return "an integer";
    case TY_BOOL: return "a boolean";
    case TY_STR: return "a string";
    case TY_VOID: return "no value";
    case TY_CTX: return "the context";
    case TY_MAP: return "a map";
    case TY_HDR: return "a packet header pointer";
    case TY_IPV4: return "an ipv4 address";
    case TY_IPV6: return "an ipv6 address";
    case TY_MAC: return "a mac address";
    case TY_VALUE: return "a struct or string value";
    case TY_VALPTR: return "a pointer to a map value";
    case TY_KPTR: return "a kernel pointer";
    case TY_NORETURN: return "a return";
    default: return "unknown";
    }
}

/* tsp = lookup (...); if (tsp) delta = now - *tsp: a map-get pointer,
   or a local bound to one, used where its value is wanted reads the
   value, as a struct accessor through it does (zero when null, so no
   path reaches an unchecked load).  */
void
gebpf_deref (struct node *n)
{
  if (n->ty != TY_VALPTR || !n->vt)
    return;
  struct node *p = scm_gc_malloc (sizeof *p, "bpf-node");
  *p = *n;
  struct node **kid = scm_gc_malloc (sizeof *kid, "kids");
  kid[0] = p;
  n->op = OP_DEREF;
  n->name = "deref";
  n->kid = kid;
  n->nkid = 1;
  n->stack = SCM_PACK (0);
  gebpf_set_value_ty (n, p->vt);
}

void
gebpf_want_int (struct lower *L, struct node *n, const char *what)
{
  if (n->ty == TY_VALPTR && gebpf_value_ty (n->vt) != TY_VALUE)
    gebpf_deref (n);
  if (gebpf_intlike (n->ty) || n->ty == TY_IPV4)
    return;
  const char *fix = n->ty == TY_STR ? "strings appear only in printk and "
    "comparisons with string values"
    : n->ty == TY_HDR || n->ty == TY_VALPTR || n->ty == TY_KPTR
    ? "read a field first, or test the pointer with if / when"
    : "use an integer expression";
  gebpf_lower_error (L, n, fix, "%s needs an integer, got %s", what,
                     gebpf_tyname (n->ty));
}

/* A tracepoint's 4-byte array field read as one integer (u8 saddr[4]
   of sock/inet_sock_set_state): its bytes, in memory order, are an
   IPv4 address in network order, which is how an ipv4 value is held;
   where one is wanted it takes them as they are (no byte swap).  */
static bool
addr4_bytes (const struct node *n)
{
  return n->op == OP_ARG && n->slot == 3 && n->ival == 4;
}

/* A (bytes 16) value (u8 saddr_v6[16] of a tracepoint) holds an IPv6
   address in network order, as an ipv6 value does.  */
static bool
addr6_bytes (const struct node *n)
{
  return n->ty == TY_VALUE && n->vt->kind == GT_BYTES && n->vt->size == 16;
}

static bool
literal_fits (const struct node *n, const struct gebpf_type *t)
{
  if (n->op != OP_INT)
    return true;
  size_t size = t->size;
  bool sgn = t->kind == GT_I8 || t->kind == GT_I16 || t->kind == GT_I32
    || t->kind == GT_I64;
  if (size >= 8)
    return sgn ? !(!n->uneg && (uint64_t) n->ival > INT64_MAX) : !n->uneg;
  int64_t bits = size * 8;
  if (sgn)
    return n->ival >= -((int64_t) 1 << (bits - 1))
      && (n->uneg || (uint64_t) n->ival < ((uint64_t) 1 << (bits - 1)));
  return !n->uneg && (uint64_t) n->ival < ((uint64_t) 1 << bits);
}

void
gebpf_check_fits (struct lower *L, struct node *n, const struct gebpf_type *t,
            const char *what)
{
  bool ok;
  gebpf_deref (n);
  switch (t->kind)
    {
    case GT_U8: case GT_U16: case GT_U32: case GT_U64:
    case GT_I8: case GT_I16: case GT_I32: case GT_I64:
    case GT_BE16: case GT_BE32: case GT_BE64: case GT_UINT: case GT_BOOL:
      ok = gebpf_intlike (n->ty);
      if (ok && !literal_fits (n, t))
        {
          char *ts = gebpf_type_string (t);
          char *g = scm_gc_strdup (ts, "t");
          free (ts);
          bool sgn = t->kind == GT_I8 || t->kind == GT_I16
            || t->kind == GT_I32 || t->kind == GT_I64;
          int bits = t->size >= 8 ? 64 : (int) t->size * 8;
          char range[96];
          gebpf_range (range, sizeof range,
                       sgn ? (bits == 64 ? INT64_MIN
                              : -((int64_t) 1 << (bits - 1))) : 0,
                       sgn ? (bits == 64 ? (uint64_t) INT64_MAX
                              : ((uint64_t) 1 << (bits - 1)) - 1)
                       : bits == 64 ? UINT64_MAX
                       : ((uint64_t) 1 << bits) - 1);
          gebpf_lower_error (L, n, "use a literal in the type's range",
                             "literal out of range for %s (%s: %s)", what, g,
                             range);
        }
      break;
    case GT_IPV4:
      ok = n->ty == TY_IPV4 || n->ty == TY_INT;
      if (addr4_bytes (n))
        n->ty = TY_IPV4;
      break;
    case GT_IPV6:
      ok = n->ty == TY_IPV6 || addr6_bytes (n);
      break;
    case GT_MAC:
      ok = n->ty == TY_MAC;
      break;
    case GT_PREFIX:
      ok = (t->elem->kind == GT_IPV4 && n->ty == TY_IPV4)
        || (t->elem->kind == GT_IPV6 && n->ty == TY_IPV6)
        || (n->ty == TY_VALUE && n->vt == t);
      break;
    case GT_STRING:
      ok = n->ty == TY_STR || (n->ty == TY_VALUE && n->vt->kind == GT_STRING);
      break;
    default:
      ok = n->ty == TY_VALUE && n->vt == t;
      break;
    }
  if (!ok)
    {
      char *ts = gebpf_type_string (t);
      char *g = scm_gc_strdup (ts, "t");
      free (ts);
      gebpf_lower_error (L, n, "give a value of the declared type",
                         "%s must be %s, got %s", what, g, gebpf_tyname (n->ty));
    }
}

/* Stack ids: a node's stack is (STACKMAP . MODE) for a value that
   stack-id, (kstack) or (ustack) made, also through a local, so that a
   map keyed by it prints its keys as frames.  */
static SCM
local_stack (struct lower *L, int slot)
{
  SCM v = scm_assv_ref (L->stack_locals, scm_from_int (slot));
  return gebpf_is_stack (v) ? v : SCM_PACK (0);
}

static void
set_local_stack (struct lower *L, int slot, SCM stack)
{
  L->stack_locals = scm_acons (scm_from_int (slot),
                               gebpf_is_stack (stack) ? stack : SCM_BOOL_F,
                               L->stack_locals);
}

void
gebpf_set_value_ty (struct node *n, const struct gebpf_type *t)
{
  n->ty = gebpf_value_ty (t);
  n->vt = t;
  n->is_signed = t->kind == GT_I8 || t->kind == GT_I16 || t->kind == GT_I32
    || t->kind == GT_I64;
}

static bool
same_ty (struct node *a, struct node *b)
{
  if (gebpf_intlike (a->ty) && gebpf_intlike (b->ty))
    return true;
  if (a->ty != b->ty)
    return false;
  if (a->ty == TY_VALUE || a->ty == TY_VALPTR)
    return a->vt == b->vt;
  if (a->ty == TY_HDR)
    return a->hdr == b->hdr;
  return true;
}

/* Join the types of two branches.  */
static void
join (struct node *n, struct node *a, struct node *b)
{
  /* (if P (map-get m k) 7): a map-get pointer beside a value is the
     value it points at.  */
  if (b && a->ty == TY_VALPTR && b->ty != TY_VALPTR && b->ty != TY_NORETURN)
    gebpf_deref (a);
  if (b && b->ty == TY_VALPTR && a->ty != TY_VALPTR && a->ty != TY_NORETURN)
    gebpf_deref (b);
  if (!b || a->ty == TY_NORETURN)
    {
      if (!b)
        {
          n->ty = TY_VOID;
          return;
        }
      *n = (struct node) { .op = n->op, .datum = n->datum, .file = n->file,
                           .line = n->line, .col = n->col, .kid = n->kid,
                           .nkid = n->nkid, .name = n->name, .slot = n->slot,
                           .ref = n->ref, .field = n->field, .ty = b->ty,
                           .vt = b->vt, .hdr = b->hdr,
                           .is_signed = b->is_signed, .btf_id = b->btf_id };
      return;
    }
  if (b->ty == TY_NORETURN || same_ty (a, b))
    {
      n->ty = gebpf_intlike (a->ty) && b->ty != TY_NORETURN && a->ty != b->ty
        ? TY_INT : a->ty;
      n->vt = a->vt;
      n->hdr = a->hdr;
      n->is_signed = a->is_signed;
      n->btf_id = a->btf_id;
      return;
    }
  n->ty = TY_VOID;
}

static void
type_kids (struct lower *L, struct node *n)
{
  for (int i = 0; i < n->nkid; i++)
    if (n->kid[i])
      type (L, n->kid[i]);
}

static void
type_seq (struct lower *L, struct node *n)
{
  type_kids (L, n);
  struct node *last = n->nkid ? n->kid[n->nkid - 1] : NULL;
  if (last)
    {
      n->ty = last->ty;
      n->vt = last->vt;
      n->hdr = last->hdr;
      n->is_signed = last->is_signed;
      n->btf_id = last->btf_id;
    }
  else
    n->ty = TY_VOID;
}

static void
type_test (struct lower *L, struct node *t, const char *form)
{
  type (L, t);
  if (!truthy (t->ty))
    gebpf_lower_error (L, t, "test an integer, a boolean or a pointer",
                       "%s test is %s", form, gebpf_tyname (t->ty));
}

/* ---- inlines --------------------------------------------------------- */

static void
type_inline (struct lower *L, struct node *n)
{
  type_kids (L, n);
  for (int i = 0; i < n->nkid; i++)
    if (n->kid[i]->ty == TY_VOID || n->kid[i]->ty == TY_NORETURN
        || n->kid[i]->ty == TY_STR || n->kid[i]->ty == TY_MAP
        || n->kid[i]->ty == TY_CTX)
      gebpf_lower_error (L, n->kid[i], "pass values to inlines",
                         "argument %d of %s is %s", i + 1, n->name,
                         gebpf_tyname (n->kid[i]->ty));
  /* Find an instance with this signature.  */
  struct inline_inst *in;
  for (in = L->insts; in; in = in->next)
    {
      if (!scm_is_eq (in->obj, n->ref) || in->nparams != n->nkid)
        continue;
      bool same = true;
      for (int i = 0; i < n->nkid && same; i++)
        same = in->pty[i] == n->kid[i]->ty && in->pvt[i] == n->kid[i]->vt
          && in->phdr[i] == n->kid[i]->hdr
          && L->local_signed[in->slots[i]] == n->kid[i]->is_signed
          && L->local_btf[in->slots[i]] == n->kid[i]->btf_id;
      if (same)
        break;
    }
  if (in && in->typing)
    gebpf_lower_error (L, n, "inlines cannot call themselves; write a "
                       "do-times loop", "circular inline %s", n->name);
  if (!in)
    {
      in = scm_gc_malloc (sizeof *in, "inst");
      memset (in, 0, sizeof *in);
      in->obj = n->ref;
      /* Scheme names may hold ? ! * ...: the C name keeps only
         identifier characters, made unique by the instance number.  */
      /* u_ as every user identifier in the C (see emit.c).  */
      char cname[160] = "u_";
      int j = 2;
      for (const char *p = n->name; *p && j < 100; p++)
        {
          char ch = *p;
          bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '_';
          cname[j++] = ok ? ch : '_';
        }
      snprintf (cname + j, sizeof cname - j, "__%d%s", L->ninsts++,
                L->inst_suffix ? L->inst_suffix : "");
      in->cname = scm_gc_strdup (cname, "cname");
      in->body = gebpf_resolve_inline (L, n->ref, n, &in->slots, &in->nparams);
      in->pty = scm_gc_malloc_pointerless (n->nkid * sizeof (enum ty) + 1, "p");
      in->pvt = scm_gc_malloc (n->nkid * sizeof (void *) + 1, "p");
      in->phdr = scm_gc_malloc_pointerless (n->nkid * sizeof (enum hdr) + 1, "p");
      for (int i = 0; i < n->nkid; i++)
        {
          in->pty[i] = n->kid[i]->ty;
          in->pvt[i] = n->kid[i]->vt;
          in->phdr[i] = n->kid[i]->hdr;
          L->local_ty[in->slots[i]] = in->pty[i];
          L->local_vt[in->slots[i]] = in->pvt[i];
          L->local_hdr[in->slots[i]] = in->phdr[i];
          L->local_signed[in->slots[i]] = n->kid[i]->is_signed;
          L->local_btf[in->slots[i]] = n->kid[i]->btf_id;
        }
      in->typing = true;
      /* Append, so emission follows creation order (deterministic).  */
      struct inline_inst **tail = &L->insts;
      while (*tail)
        tail = &(*tail)->next;
      *tail = in;
      type (L, in->body);
      in->typing = false;
      in->rty = in->body->ty == TY_NORETURN ? TY_VOID : in->body->ty;
      in->rvt = in->body->vt;
      in->rhdr = in->body->hdr;
      if (in->rty == TY_STR || in->rty == TY_MAP || in->rty == TY_CTX)
        gebpf_lower_error (L, n, "return a value from the inline",
                           "inline %s returns %s", n->name, gebpf_tyname (in->rty));
    }
  n->name = in->cname;
  n->ref = in->obj;
  n->field = -1;
  n->ty = in->rty;
  n->vt = in->rvt;
  n->hdr = in->rhdr;
  n->btf_id = in->body->btf_id;
  /* Remember the instance through btf_id's sibling: index in list.  */
  int idx = 0;
  for (struct inline_inst *p = L->insts; p && p != in; p = p->next)
    idx++;
  n->slot = idx;
}

/* ---- strings and memory ------------------------------------------------ */

static bool
stringy (const struct node *n)
{
  return n->ty == TY_STR || (n->ty == TY_VALUE && n->vt->kind == GT_STRING);
}

/* (string=? A B), (string-prefix? PREFIX S): both sides strings.  */
static void
type_string_test (struct lower *L, struct node *n)
{
  type_kids (L, n);
  for (int i = 0; i < 2; i++)
    if (!stringy (n->kid[i]))
      gebpf_lower_error (L, n->kid[i], "compare (comm), a read-user-str or "
                         "read-kernel-str result, a (string N) field or "
                         "value, or a string literal",
                         "%s compares strings, and argument %d is %s",
                         n->name, i + 1, n->kid[i]->ty == TY_VALUE
                         ? "a value of another type" : gebpf_tyname (n->kid[i]->ty));
  n->ty = TY_BOOL;
}

/* (read-user PTR 'TYPE), (read-kernel PTR 'TYPE): PTR an address, the
   value of TYPE (n->st, from parse.c).  */
static void
type_read (struct lower *L, struct node *n)
{
  type_kids (L, n);
  struct node *p = n->kid[0];
  /* An address kept in a map (stored at a syscall's entry, read at
     its exit): the map-get pointer gives it.  */
  if (p->ty == TY_VALPTR && gebpf_value_ty (p->vt) == TY_INT)
    gebpf_deref (p);
  if (!(p->ty == TY_INT || p->ty == TY_KPTR))
    gebpf_lower_error (L, p, "pass an address: an arg, a pointer read "
                       "with read-user or read-kernel as 'u64, or a "
                       "core-read pointer", "%s needs a pointer, got %s",
                       n->name, gebpf_tyname (p->ty));
  if (n->st->size > 256)
    gebpf_lower_error (L, n, "read at most 256 bytes at once (the BPF stack "
                       "holds 512): read a smaller type, or fields one by "
                       "one", "%s of %zu bytes is too large", n->name,
                       n->st->size);
  gebpf_set_value_ty (n, n->st);
}

/* ---- the pass ---------------------------------------------------------- */

static bool
const_zero (struct node *n)
{
  return n->op == OP_INT && n->ival == 0;
}

static const char *
hdr_form (enum hdr h)
{
  return h == H_ETH ? "packet-eth" : h == H_IPV4 ? "packet-ipv4"
    : h == H_IPV6 ? "packet-ipv6" : h == H_TCP ? "packet-tcp"
    : h == H_UDP ? "packet-udp" : "packet-icmp";
}

/* (set-field! PTR 'FIELD VALUE), PTR a map-get pointer to a struct
   value: the field is written in the map's memory, so per-CPU records
   are updated in place (xdp-tutorial basic03's {packets, bytes}).
   n->st marks the node as this kind of write; '-' may be written for
   '_' as in packet fields.  */
static void
type_struct_write (struct lower *L, struct node *n, struct node *h,
                   struct node *v)
{
  const struct gebpf_type *st = h->vt;
  const char *want = n->kid[1]->name;
  size_t i;
  for (i = 0; i < st->nfields; i++)
    {
      const char *a = st->fields[i].name, *b = want;
      while (*a && (*a == *b || ((*a == '-' || *a == '_')
                                 && (*b == '-' || *b == '_'))))
        a++, b++;
      if (!*a && !*b)
        break;
    }
  if (i == st->nfields)
    {
      char fix[512];
      int len = snprintf (fix, sizeof fix, "%s has the fields", st->name);
      for (size_t j = 0; j < st->nfields && len < (int) sizeof fix; j++)
        len += snprintf (fix + len, sizeof fix - len, " %s",
                         st->fields[j].name);
      gebpf_lower_error (L, n->kid[1], fix, "set-field!: no field '%s in "
                         "struct %s", want, st->name);
    }
  const struct gebpf_type *ft = st->fields[i].type;
  /* A scalar is stored whole; a string, array or nested struct written
     in place would keep bytes of the old value that the new one does
     not cover.  */
  if (!(ft->kind <= GT_MAC || ft->kind == GT_UINT))
    gebpf_lower_error (L, n->kid[1], "store the whole struct with map-set! "
                       "and a make- form",
                       "set-field! writes integer and address fields of a "
                       "struct in a map; %s of %s is %s", st->fields[i].name,
                       st->name, ft->kind == GT_STRING ? "a string"
                       : ft->kind == GT_STRUCT ? "a struct"
                       : ft->kind == GT_ARRAY ? "an array"
                       : ft->kind == GT_PREFIX ? "a prefix" : "bytes");
  char what[128];
  snprintf (what, sizeof what, "field %s of %s", st->fields[i].name,
            st->name);
  gebpf_check_fits (L, v, ft, what);
  n->st = st;
  n->field = i;
  n->kid[1]->ty = TY_VOID;
  n->ty = TY_VOID;
}

/* The socket buffer field named by N's second kid, for reading
   (ctx-field) or writing (set-field! of the context): its index, or an
   error naming the fields this kind of program may use so.  */
static int
type_ctx_field (struct lower *L, struct node *n, bool write)
{
  const char *name = n->kid[1]->name;
  const struct ctxfield *f = gebpf_ctxfield_lookup (name);
  unsigned bit = 1u << L->kind;
  if (f && ((write ? f->write : f->read) & bit))
    return gebpf_ctxfield_index (f);
  char names[400], fix[512];
  if (!f && write)
    /* Most likely a header's field written on the context.  */
    gebpf_lower_error (L, n->kid[0], "pass a header from packet-eth, "
                       "packet-ipv4, packet-ipv6, packet-tcp, packet-udp or "
                       "packet-icmp; the context's own fields are written "
                       "in tc programs (mark, priority, tc_index, tc_classid, "
                       "queue_mapping) and cgroup-skb programs (mark, "
                       "priority)", "set-field! needs a packet header for "
                       "'%s, got the context", name);
  gebpf_ctxfield_names (bit, write, names, sizeof names);
  if (!names[0])
    snprintf (fix, sizeof fix, "%s", write
              ? "write the context in tc programs (mark, priority, "
              "tc_index, tc_classid, queue_mapping) and cgroup-skb programs "
              "(mark, priority)"
              : "read socket buffer fields in tc, socket-filter and "
              "cgroup-skb programs; xdp has packet-length and packet-ifindex");
  else
    snprintf (fix, sizeof fix, "in %s programs %s %s",
              gebpf_sym_name (gebpf_prog_kinds, L->kind), write ? "set-field! writes" : "ctx-field reads", names);
  gebpf_lower_error (L, n->kid[1], fix, "%s: %s '%s in %s programs",
                     write ? "set-field!" : "ctx-field",
                     f ? (write ? "cannot write the context's"
                          : "cannot read the context's")
                     : "no socket buffer field", name,
                     gebpf_sym_name (gebpf_prog_kinds, L->kind));
}

/* set-field!, xdp-adjust-head!/-tail!, redirect, redirect-map.  */
static void
type_packet_write (struct lower *L, struct node *n)
{
  switch (n->op)
    {
    case OP_SET_FIELD:
      {
        struct node *h = n->kid[0], *v = n->kid[2];
        type (L, h);
        type (L, v);
        if (h->ty == TY_VALPTR && h->vt->kind == GT_STRUCT)
          {
            type_struct_write (L, n, h, v);
            return;
          }
        if (h->ty == TY_CTX)
          {
            n->field = type_ctx_field (L, n, true);
            gebpf_want_int (L, v, "set-field!");
            if (v->op == OP_INT && (v->uneg || (uint64_t) v->ival >> 32))
              gebpf_lower_error (L, v, "give a value that fits the field",
                                 "set-field! '%s: %lld does not fit in 4 "
                                 "bytes", n->kid[1]->name,
                                 (long long) v->ival);
            n->kid[1]->ty = TY_VOID;
            n->ty = TY_VOID;
            return;
          }
        if (h->ty != TY_HDR)
          gebpf_lower_error (L, h, "pass a header from packet-eth, "
                             "packet-ipv4, packet-ipv6, packet-tcp, "
                             "packet-udp or packet-icmp, or a map-get "
                             "pointer to a struct value",
                             "set-field! needs a packet header, got %s",
                             gebpf_tyname (h->ty));
        const struct sfield *f = gebpf_sfield_lookup (h->hdr, n->kid[1]->name);
        if (!f)
          {
            char names[512], fix[600];
            snprintf (fix, sizeof fix, "%s headers have %s", hdr_form (h->hdr),
                      gebpf_sfield_names (h->hdr, names, sizeof names));
            gebpf_lower_error (L, n->kid[1], fix, "set-field!: no field '%s "
                               "in a %s header", n->kid[1]->name,
                               hdr_form (h->hdr));
          }
        n->field = gebpf_sfield_index (f);
        n->hdr = h->hdr;
        n->kid[1]->ty = TY_VOID;
        if (f->ty == TY_INT)
          {
            gebpf_want_int (L, v, "set-field!");
            if (v->op == OP_INT
                && (v->uneg || (uint64_t) v->ival >> (f->mask ? 1
                                                     : 8 * f->size)))
              gebpf_lower_error (L, v, "give a value that fits the field",
                                 "set-field! '%s: %lld does not fit in %d "
                                 "%s", f->name, (long long) v->ival,
                                 f->mask ? 1 : f->size,
                                 f->mask ? "bit" : "bytes");
          }
        else if ((gebpf_deref (v), v->ty != f->ty))
          gebpf_lower_error (L, v, f->ty == TY_MAC
                             ? "give a mac value, e.g. (eth-h-source eth)"
                             : f->ty == TY_IPV4
                             ? "give an ipv4 value, e.g. (ipv4 \"10.0.0.1\") "
                             "or (ipv4-daddr ip)"
                             : "give an ipv6 value, e.g. (ipv6 \"2001:db8::1\")",
                             "set-field! '%s needs %s, got %s", f->name,
                             gebpf_tyname (f->ty), gebpf_tyname (v->ty));
        n->ty = TY_VOID;
        return;
      }
    case OP_XDP_ADJUST_HEAD:
    case OP_XDP_ADJUST_TAIL:
      type_kids (L, n);
      if (n->kid[0]->ty != TY_CTX)
        gebpf_lower_error (L, n->kid[0], "pass the program's context",
                           "%s needs the context", n->name);
      gebpf_want_int (L, n->kid[1], n->name);
      /* 0, or a negative errno.  */
      n->ty = TY_INT;
      n->is_signed = true;
      return;
    case OP_REDIRECT:
    case OP_REDIRECT_PEER:
      type_kids (L, n);
      gebpf_want_int (L, n->kid[0], n->name);
      n->ty = TY_INT;
      return;
    case OP_REDIRECT_MAP:
      {
        type_kids (L, n);
        struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        if (m->map_type != BPF_MAP_TYPE_DEVMAP
            && m->map_type != BPF_MAP_TYPE_DEVMAP_HASH
            && m->map_type != BPF_MAP_TYPE_CPUMAP
            && m->map_type != BPF_MAP_TYPE_XSKMAP)
          gebpf_lower_error (L, n->kid[0], "declare it with #:kind 'devmap, "
                             "'devmap-hash, 'cpumap or 'xskmap",
                             "redirect-map needs a devmap, devmap-hash, "
                             "cpumap or xskmap, and %s is a %s", m->name,
                             m->kind->name);
        gebpf_want_int (L, n->kid[1], "redirect-map");
        n->ty = TY_INT;
        return;
      }
    default:
      return;
    }
}

/* The vmlinux BTF a kernel-pointer form FORM (N) reads types from.
   NULL, N typed as an untyped kernel pointer, in a kind no BTF is read
   for: the bounds pass refuses the form there, naming the outermost
   kernel read.  A tracing or LSM kind without BTF is an error.  */
static const struct btf *
kernel_btf (struct lower *L, struct node *n, const char *form)
{
  const struct btf *b = L->tgt.btf;
  if (!b && !gebpf_kind_is_tracing (L->kind) && L->kind != PK_LSM)
    {
      n->ty = TY_KPTR;
      n->btf_id = -1;
      return NULL;
    }
  if (!b)
    gebpf_lower_error (L, n, "use a kernel with BTF "
                       "(/sys/kernel/btf/vmlinux)",
                       "%s needs kernel BTF", form);
  return b;
}

static void
type (struct lower *L, struct node *n)
{
  switch (n->op)
    {
    case OP_INT:
      n->ty = TY_INT;
      n->is_signed = n->uneg;
      return;
    case OP_BOOL:
      n->ty = TY_BOOL;
      return;
    case OP_STR:
      n->ty = TY_STR;
      return;
    case OP_LOCAL:
      n->ty = L->local_ty[n->slot];
      n->vt = L->local_vt[n->slot];
      n->hdr = L->local_hdr[n->slot];
      n->is_signed = L->local_signed[n->slot];
      n->btf_id = L->local_btf[n->slot];
      n->stack = local_stack (L, n->slot);
      if (n->ty == TY_UNKNOWN)
        n->ty = TY_INT;
      return;
    case OP_CTX:
      n->ty = TY_CTX;
      return;
    case OP_MAPREF:
      n->ty = TY_MAP;
      return;
    case OP_LET:
    case OP_LETSTAR:
      {
        struct node *bs = n->kid[0];
        for (int i = 0; i < bs->nkid; i++)
          {
            struct node *b = bs->kid[i], *init = b->kid[0];
            type (L, init);
            if (init->ty == TY_VOID || init->ty == TY_NORETURN
                || init->ty == TY_STR || init->ty == TY_MAP)
              gebpf_lower_error (L, init, "bind a value (integer, header, "
                                 "address, struct ...)", "cannot bind %s to "
                                 "%s", gebpf_tyname (init->ty), b->name);
            L->local_ty[b->slot] = init->ty;
            L->local_vt[b->slot] = init->vt;
            L->local_hdr[b->slot] = init->hdr;
            L->local_signed[b->slot] = init->is_signed;
            /* A kernel pointer keeps its BTF type, so core-read works
               on the local as on (current-task) itself.  */
            L->local_btf[b->slot] = init->btf_id;
            set_local_stack (L, b->slot, init->stack);
            b->ty = init->ty;
          }
        type_seq (L, n->kid[1]);
        struct node *body = n->kid[1];
        n->ty = body->ty;
        n->vt = body->vt;
        n->hdr = body->hdr;
        n->is_signed = body->is_signed;
        n->btf_id = body->btf_id;
        return;
      }
    case OP_BEGIN:
      type_seq (L, n);
      return;
    case OP_SET:
      {
        type (L, n->kid[0]);
        enum ty lt = L->local_ty[n->slot];
        if (lt != TY_VALPTR)
          gebpf_deref (n->kid[0]);   /* a value local set! from map-get */
        struct node tmp = { .ty = lt, .vt = L->local_vt[n->slot],
                            .hdr = L->local_hdr[n->slot] };
        if (!same_ty (&tmp, n->kid[0]))
          gebpf_lower_error (L, n, "keep a local's type: bind a new local "
                             "for a value of another type",
                             "set! of %s (%s) to %s", n->name, gebpf_tyname (lt),
                             gebpf_tyname (n->kid[0]->ty));
        /* A local set! to another value is no longer known as a
           stack id (the set! may be on one branch only).  */
        SCM had = local_stack (L, n->slot);
        if (!gebpf_is_stack (n->kid[0]->stack) || !gebpf_is_stack (had)
            || !scm_is_true (scm_equal_p (n->kid[0]->stack, had)))
          set_local_stack (L, n->slot, SCM_BOOL_F);
        n->ty = TY_VOID;
        return;
      }
    case OP_IF:
      type_test (L, n->kid[0], "if");
      type (L, n->kid[1]);
      if (n->nkid == 3)
        type (L, n->kid[2]);
      join (n, n->kid[1], n->nkid == 3 ? n->kid[2] : NULL);
      return;
    case OP_WHEN:
    case OP_UNLESS:
      type_test (L, n->kid[0], n->op == OP_WHEN ? "when" : "unless");
      for (int i = 1; i < n->nkid; i++)
        type (L, n->kid[i]);
      n->ty = TY_VOID;
      return;
    case OP_COND:
      {
        bool has_else = false;
        for (int i = 0; i < n->nkid; i++)
          {
            struct node *cl = n->kid[i];
            if (cl->name && strcmp (cl->name, "else") == 0)
              {
                has_else = true;
                type_seq (L, cl);
              }
            else
              {
                type_test (L, cl->kid[0], "cond");
                for (int j = 1; j < cl->nkid; j++)
                  type (L, cl->kid[j]);
                cl->ty = cl->nkid > 1 ? cl->kid[cl->nkid - 1]->ty
                  : cl->kid[0]->ty;
                if (cl->nkid > 1)
                  {
                    cl->vt = cl->kid[cl->nkid - 1]->vt;
                    cl->hdr = cl->kid[cl->nkid - 1]->hdr;
                    cl->btf_id = cl->kid[cl->nkid - 1]->btf_id;
                  }
              }
          }
        n->ty = TY_VOID;
        if (has_else)
          {
            struct node acc = *n->kid[0];
            for (int i = 1; i < n->nkid; i++)
              join (&acc, &acc, n->kid[i]);
            n->ty = acc.ty;
            n->vt = acc.vt;
            n->hdr = acc.hdr;
            n->btf_id = acc.btf_id;
          }
        return;
      }
    case OP_CASE:
      {
        type (L, n->kid[0]);
        gebpf_want_int (L, n->kid[0], "case");
        bool has_else = false;
        for (int i = 1; i < n->nkid; i++)
          {
            type_seq (L, n->kid[i]);
            if (n->kid[i]->name && strcmp (n->kid[i]->name, "else") == 0)
              has_else = true;
          }
        n->ty = TY_VOID;
        if (has_else && n->nkid > 1)
          {
            struct node acc = *n->kid[1];
            for (int i = 2; i < n->nkid; i++)
              join (&acc, &acc, n->kid[i]);
            n->ty = acc.ty;
            n->vt = acc.vt;
            n->btf_id = acc.btf_id;
          }
        return;
      }
    case OP_AND:
    case OP_OR:
      for (int i = 0; i < n->nkid; i++)
        type_test (L, n->kid[i], n->op == OP_AND ? "and" : "or");
      n->ty = TY_BOOL;
      return;
    case OP_NOT:
      type_test (L, n->kid[0], "not");
      n->ty = TY_BOOL;
      return;
    case OP_DO_TIMES:
      {
        type (L, n->kid[0]);
        if (n->kid[0]->op != OP_INT || n->kid[0]->uneg
            || (uint64_t) n->kid[0]->ival > 1u << 20)
          gebpf_lower_error (L, n->kid[0], "give a constant count (an "
                             "integer, or a Scheme integer spliced with ,)",
                             "do-times needs a constant count in 0..%u",
                             1u << 20);
        L->local_ty[n->slot] = TY_INT;
        type (L, n->kid[1]);
        n->ty = TY_VOID;
        return;
      }
    case OP_RETURN:
      if (n->nkid)
        {
          type (L, n->kid[0]);
          gebpf_want_int (L, n->kid[0], "return");
        }
      n->ty = TY_NORETURN;
      return;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
    case OP_REM: case OP_MIN: case OP_MAX: case OP_LOGAND: case OP_LOGIOR:
    case OP_LOGXOR: case OP_LOGNOT: case OP_ASH:
      type_kids (L, n);
      for (int i = 0; i < n->nkid; i++)
        {
          gebpf_want_int (L, n->kid[i], gebpf_op_name (n->op));
          if (n->kid[i]->is_signed)
            n->is_signed = true;
        }
      if ((n->op == OP_DIV || n->op == OP_MOD || n->op == OP_REM)
          && const_zero (n->kid[1]))
        gebpf_lower_error (L, n->kid[1], "divide by something else than 0",
                           "division by a constant zero");
      if (n->op == OP_ASH && n->kid[1]->op == OP_INT
          && (n->kid[1]->uneg ? -n->kid[1]->ival : n->kid[1]->ival) > 63)
        gebpf_lower_error (L, n->kid[1], "shift by -63..63",
                           "shift count out of range (between -63 and 63)");
      n->ty = TY_INT;
      return;
    case OP_EQ: case OP_NE: case OP_LT: case OP_GT: case OP_LE: case OP_GE:
      {
        type_kids (L, n);
        struct node *a = n->kid[0], *b = n->kid[1];
        for (int i = 0; i < 2; i++)
          if (n->kid[i]->ty == TY_VALPTR
              && gebpf_value_ty (n->kid[i]->vt) != TY_VALUE)
            gebpf_deref (n->kid[i]);
        bool str = (a->ty == TY_STR && b->ty == TY_VALUE
                    && b->vt->kind == GT_STRING)
          || (b->ty == TY_STR && a->ty == TY_VALUE
              && a->vt->kind == GT_STRING);
        bool eqop = n->op == OP_EQ || n->op == OP_NE;
        /* A 16-byte field (u8 saddr_v6[16]) compares with an ipv6 value
           or another such field as the ipv6 it holds.  */
        bool ip6 = (a->ty == TY_IPV6 || addr6_bytes (a))
          && (b->ty == TY_IPV6 || addr6_bytes (b));
        if (str || ip6 || ((a->ty == TY_IPV6 || a->ty == TY_MAC)
                           && a->ty == b->ty))
          {
            if (!eqop)
              gebpf_lower_error (L, n, "compare with = or !=",
                                 "%s orders only integers", n->name);
          }
        else if ((a->ty == TY_IPV4 || addr4_bytes (a))
                 && (b->ty == TY_IPV4 || addr4_bytes (b))
                 && (a->ty == TY_IPV4 || b->ty == TY_IPV4))
          a->ty = b->ty = TY_IPV4;
        else
          {
            gebpf_want_int (L, a, n->name);
            gebpf_want_int (L, b, n->name);
          }
        n->ty = TY_BOOL;
        return;
      }
    case OP_ZEROP:
      type_kids (L, n);
      gebpf_want_int (L, n->kid[0], "zero?");
      n->ty = TY_BOOL;
      return;
    case OP_CALL: case OP_PID: case OP_TGID: case OP_TID: case OP_UID:
    case OP_GID: case OP_CPU: case OP_KTIME: case OP_PRANDOM: case OP_PROBE:
      type_kids (L, n);
      n->ty = TY_INT;
      return;
    case OP_COMM:
      n->ty = TY_VALUE;
      n->vt = gebpf_type_parse (scm_list_2 (scm_from_utf8_symbol ("string"),
                                            scm_from_int (16)),
                                "bpf-fn", "comm");
      return;
    case OP_MAP_GET: case OP_MAP_REF: case OP_MAP_SET: case OP_MAP_DELETE:
    case OP_MAP_INC: case OP_HIST: case OP_LHIST: case OP_EMIT:
    case OP_PERF_EMIT: case OP_STACK_ID: case OP_UNDER_CGROUP:
      type_kids (L, n);
      gebpf_type_map_form (L, n);
      return;
    case OP_CTX_FIELD:
      type (L, n->kid[0]);
      if (n->kid[0]->ty != TY_CTX)
        gebpf_lower_error (L, n->kid[0], "pass the program's context",
                           "ctx-field needs the context");
      n->field = type_ctx_field (L, n, false);
      n->kid[1]->ty = TY_VOID;
      n->ty = TY_INT;
      return;
    case OP_PROTO:
    case OP_PKT_LEN:
    case OP_PKT_IFINDEX:
    case OP_PKT_VLAN:
      type_kids (L, n);
      if (n->kid[0]->ty != TY_CTX)
        gebpf_lower_error (L, n->kid[0], "pass the program's context",
                           "%s needs the context", n->name);
      n->ty = TY_INT;
      /* packet-vlan-id is -1 for an untagged frame.  */
      n->is_signed = n->op == OP_PKT_VLAN;
      return;
    case OP_PKT_ETH: case OP_PKT_IPV4: case OP_PKT_IPV6: case OP_PKT_TCP:
    case OP_PKT_UDP: case OP_PKT_ICMP:
      type_kids (L, n);
      {
        /* L4 headers also come from an IP header the body already has:
           (packet-tcp ip) parses only that IP version.  */
        bool l4 = n->op == OP_PKT_TCP || n->op == OP_PKT_UDP
          || n->op == OP_PKT_ICMP;
        struct node *a = n->kid[0];
        if (!(a->ty == TY_CTX
              || (l4 && a->ty == TY_HDR
                  && (a->hdr == H_IPV4 || a->hdr == H_IPV6))))
          gebpf_lower_error (L, a, l4 ? "pass the context or an IP header "
                             "(packet-ipv4 / packet-ipv6)"
                             : "pass the program's context",
                             "%s needs the context%s", n->name,
                             l4 ? " or an IP header" : "");
      }
      n->ty = TY_HDR;
      n->hdr = n->op == OP_PKT_ETH ? H_ETH : n->op == OP_PKT_IPV4 ? H_IPV4
        : n->op == OP_PKT_IPV6 ? H_IPV6 : n->op == OP_PKT_TCP ? H_TCP
        : n->op == OP_PKT_UDP ? H_UDP : H_ICMP;
      return;
    case OP_FIELD:
      {
        type_kids (L, n);
        const struct hfield *f = gebpf_hfield (n->field);
        struct node *h = n->kid[0];
        if (h->ty != TY_HDR || h->hdr != f->hdr)
          gebpf_lower_error (L, h, "pass the header of the right kind, e.g. "
                             "(ipv4-saddr (packet-ipv4 ctx))",
                             "%s needs a %s header, got %s", n->name,
                             f->hdr == H_ETH ? "packet-eth"
                             : f->hdr == H_IPV4 ? "packet-ipv4"
                             : f->hdr == H_IPV6 ? "packet-ipv6"
                             : f->hdr == H_TCP ? "packet-tcp"
                             : f->hdr == H_UDP ? "packet-udp" : "packet-icmp",
                             gebpf_tyname (h->ty));
        n->ty = f->ty;
        n->hdr = f->hdr;
        return;
      }
    case OP_SET_FIELD: case OP_XDP_ADJUST_HEAD: case OP_XDP_ADJUST_TAIL:
    case OP_REDIRECT: case OP_REDIRECT_PEER: case OP_REDIRECT_MAP:
      type_packet_write (L, n);
      return;
    case OP_FIB_LOOKUP: case OP_FIB_STATUS:
      {
        type_kids (L, n);
        if (n->kid[0]->ty != TY_CTX)
          gebpf_lower_error (L, n->kid[0], "pass the program's context",
                             "%s needs the context", n->name);
        struct node *ip = n->kid[1];
        if (!(ip->ty == TY_HDR && (ip->hdr == H_IPV4 || ip->hdr == H_IPV6)))
          gebpf_lower_error (L, ip, "pass the header of packet-ipv4 or "
                             "packet-ipv6", "%s needs an IP header, "
                             "got %s", n->name, gebpf_tyname (ip->ty));
        /* The egress ifindex, or 0; the status may be a negative
           errno.  */
        n->ty = TY_INT;
        n->is_signed = n->op == OP_FIB_STATUS;
        return;
      }
    case OP_FRAGP:
      type_kids (L, n);
      if (n->kid[0]->ty != TY_HDR || n->kid[0]->hdr != H_IPV4)
        gebpf_lower_error (L, n->kid[0], "pass (packet-ipv4 ctx)",
                           "ipv4-fragment? needs an ipv4 header");
      n->ty = TY_BOOL;
      return;
    case OP_IPV4_CONST:
      {
        struct in_addr a;
        if (inet_pton (AF_INET, n->kid[0]->name, &a) != 1)
          gebpf_lower_error (L, n, "write an IPv4 address as \"10.0.0.1\"",
                             "bad IPv4 address \"%s\"", n->kid[0]->name);
        n->ival = ntohl (a.s_addr);
        n->nkid = 0;
        n->ty = TY_IPV4;
        return;
      }
    case OP_IPV6_CONST:
      if (inet_pton (AF_INET6, n->kid[0]->name, n->addr6) != 1)
        gebpf_lower_error (L, n, "write an IPv6 address as \"2001:db8::1\"",
                           "bad IPv6 address \"%s\"", n->kid[0]->name);
      n->nkid = 0;
      n->ty = TY_IPV6;
      return;
    case OP_ARG:
      type (L, n->kid[0]);
      if (n->kid[0]->ty != TY_CTX)
        gebpf_lower_error (L, n->kid[0], "pass the program's context",
                           "arg needs the context");
      n->ty = TY_INT;
      if (L->kind == PK_TRACEPOINT)
        {
          gebpf_locate_tp_arg (L, n);
          if (n->slot == 1 || n->slot == 2)
            {
              /* char[N] and __data_loc char[] are strings; other arrays
                 byte strings.  A __data_loc string is read up to 256.  */
              long len = n->slot == 2 ? 256 : n->ival;
              n->ty = TY_VALUE;
              n->vt = gebpf_type_parse
                (scm_list_2 (scm_from_utf8_symbol (n->quoted || n->slot == 2
                                                   ? "string" : "bytes"),
                             scm_from_long (len)), "bpf-fn", "field");
            }
        }
      else if (n->kid[1]->op == OP_INT)
        /* A pointer argument of a BTF-typed target keeps its struct, for
           core-read (BTF is loaded only for a body that has one).  */
        {
          n->btf_id = gebpf_arg_btf_struct (L, n->kid[1]->ival);
          /* An integer argument takes its size and sign from BTF (sys_exit's
             long ret is negative on failure); ival keeps the size for the
             emitter, 0 for a full 64-bit slot.  */
          bool sg;
          int size = n->btf_id ? 0 : gebpf_arg_btf_int (L, n->kid[1]->ival,
                                                        &sg);
          if (size)
            {
              n->is_signed = sg;
              n->ival = size < 8 ? size : 0;
            }
        }
      return;
    case OP_RETVAL:
      type_kids (L, n);
      n->ty = TY_INT;
      n->is_signed = true;
      return;
    case OP_USDT_ARG:
      type_kids (L, n);
      if (n->kid[0]->ty != TY_CTX)
        gebpf_lower_error (L, n->kid[0], "pass the program's context",
                           "usdt-arg needs the context");
      n->ty = TY_INT;
      n->is_signed = true;      /* bpf_usdt_arg sign-extends */
      return;
    case OP_CURRENT_TASK:
      {
        const struct btf *b = kernel_btf (L, n, "current-task");
        if (!b)
          return;
        n->ty = TY_KPTR;
        n->btf_id = btf__find_by_name_kind (b, "task_struct", BTF_KIND_STRUCT);
        L->uses_vmlinux = true;
        return;
      }
    case OP_CORE_CAST:
      {
        /* sock:inet_sock_set_state's skaddr is a const void *: the
           program says what it points at, as C's cast does.  */
        type (L, n->kid[0]);
        struct node *p = n->kid[0];
        if (p->ty == TY_VALPTR && gebpf_value_ty (p->vt) == TY_INT)
          gebpf_deref (p);
        if (!(gebpf_intlike (p->ty) || p->ty == TY_KPTR))
          gebpf_lower_error (L, p, "pass an address: an arg, a core-read "
                             "pointer, or an integer kept in a map",
                             "core-cast needs a pointer, got %s",
                             gebpf_tyname (p->ty));
        const struct btf *b = kernel_btf (L, n, "core-cast");
        if (!b)
          return;
        const char *sn = n->kid[1]->name;
        int id = btf__find_by_name_kind (b, sn, BTF_KIND_STRUCT);
        if (id <= 0)
          id = btf__find_by_name_kind (b, sn, BTF_KIND_UNION);
        if (id <= 0)
          gebpf_lower_error (L, n->kid[1], "name a struct or union of the "
                             "kernel's BTF, without the struct keyword "
                             "(bpftool btf dump file /sys/kernel/btf/vmlinux)",
                             "core-cast: the kernel has no struct %s", sn);
        n->kid[1]->ty = TY_VOID;
        n->ty = TY_KPTR;
        n->btf_id = id;
        L->uses_vmlinux = true;
        return;
      }
    case OP_CORE_READ:
      type (L, n->kid[0]);
      gebpf_type_core_read (L, n);
      return;
    case OP_READ_USER_STR:
    case OP_READ_KERNEL_STR:
      {
        type_kids (L, n);
        if (n->kid[0]->ty == TY_VALPTR
            && gebpf_value_ty (n->kid[0]->vt) == TY_INT)
          gebpf_deref (n->kid[0]);
        if (!(gebpf_intlike (n->kid[0]->ty) || n->kid[0]->ty == TY_KPTR))
          gebpf_lower_error (L, n->kid[0], "pass an address (an arg or a "
                             "core-read pointer)", "%s needs a pointer",
                             n->name);
        struct node *len = n->kid[1];
        if (len->op != OP_INT || len->uneg || len->ival < 1 || len->ival > 4096)
          gebpf_lower_error (L, len, "give a constant size 1..4096",
                             "%s needs a constant size", n->name);
        n->ty = TY_VALUE;
        n->vt = gebpf_type_parse (scm_list_2 (scm_from_utf8_symbol ("string"),
                                              scm_from_int64 (len->ival)),
                                  "bpf-fn", "string");
        return;
      }
    case OP_PRINTK:
      type_kids (L, n);
      for (int i = 1; i < n->nkid; i++)
        gebpf_deref (n->kid[i]);
      for (int i = 1; i < n->nkid; i++)
        if (!(gebpf_intlike (n->kid[i]->ty) || n->kid[i]->ty == TY_IPV4
              || n->kid[i]->ty == TY_KPTR
              || (n->kid[i]->ty == TY_VALUE
                  && n->kid[i]->vt->kind == GT_STRING)))
          gebpf_lower_error (L, n->kid[i], "print integers or strings",
                             "printk cannot print %s",
                             gebpf_tyname (n->kid[i]->ty));
      n->ty = TY_VOID;
      return;
    case OP_MAKE_STRUCT:
      type_kids (L, n);
      for (int i = 0; i < n->nkid; i++)
        if (n->kid[i])
          {
            char what[128];
            snprintf (what, sizeof what, "field %s of %s",
                      n->st->fields[i].name, n->st->name);
            gebpf_check_fits (L, n->kid[i], n->st->fields[i].type, what);
          }
      n->ty = TY_VALUE;
      n->vt = n->st;
      return;
    case OP_STRUCT_REF:
      {
        type_kids (L, n);
        struct node *v = n->kid[0];
        if (!((v->ty == TY_VALUE || v->ty == TY_VALPTR) && v->vt == n->st))
          gebpf_lower_error (L, v, "pass a value of that struct",
                             "%s needs a %s, got %s", n->name, n->st->name,
                             gebpf_tyname (v->ty));
        gebpf_set_value_ty (n, n->st->fields[n->field].type);
        return;
      }
    case OP_CONST:
      {
        /* The constant is a global symbol named as written (#:constants
           finds it by name), like the program, its maps and LICENSE.  */
        char *c = gebpf_c_ident (scm_from_utf8_string (n->name), "bpf-fn",
                                 "const name");
        const char *clash = strcmp (c, "LICENSE") == 0 ? "the license"
          : strcmp (c, L->fname) == 0 ? "the program" : NULL;
        for (SCM l = L->maps; !clash && scm_is_pair (l); l = SCM_CDR (l))
          {
            struct gebpf_map *m = scm_foreign_object_ref (SCM_CAR (l), 0);
            if (strcmp (c, m->cname) == 0)
              clash = "a map";
          }
        free (c);
        if (clash)
          gebpf_lower_error (L, n, "rename the constant",
                             "(const %s) has the name of %s", n->name, clash);
        n->ty = TY_INT;
        SCM v = scm_is_pair (L->constants)
          ? scm_assq_ref (L->constants, scm_from_utf8_symbol (n->name))
          : SCM_BOOL_F;
        n->is_signed = scm_is_true (v) && scm_is_signed_integer (v, INT64_MIN, -1);
        return;
      }
    case OP_KSTACK:
    case OP_USTACK:
      /* An unsigned id (a failed capture's negative errno wraps, and
         prints as an empty stack), with the process id above it for a
         user stack.  */
      n->ty = TY_INT;
      n->is_signed = false;
      n->stack = scm_cons (n->kid[0]->ref,
                           scm_from_utf8_symbol (n->op == OP_KSTACK
                                                 ? "kernel" : "user"));
      return;
    case OP_INLINE_CALL:
      type_inline (L, n);
      return;
    case OP_STRING_EQ:
    case OP_STRING_PREFIX:
      type_string_test (L, n);
      return;
    case OP_READ_USER:
    case OP_READ_KERNEL:
      type_read (L, n);
      return;
    default:
      type_kids (L, n);
      n->ty = TY_VOID;
      return;
    }
}

void
gebpf_types (struct lower *L)
{
  type (L, L->body);
}
