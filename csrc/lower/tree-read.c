/* tree-read.c --- the inverse of tree.c's writer: a tree between passes,
   as bpf-fn-ast prints it or as a test builds it, read into struct node
   and the state struct lower keeps beside the nodes, so that the driver
   can start at any pass from it.

   The reader treats its input as hostile: every list is checked proper
   and acyclic, nesting and size are bounded, every op, name, index and
   reference is checked against what the pass it feeds dereferences, and
   a tree given to bounds or emit must be the one the types pass makes
   of it; anything else is an ebpf-lower-error naming the bad node.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/btf.h>
#include "lower.h"
#include "../map.h"

/* Pairs in one tree given to the reader, and how deep lists nest in it
   (nodes nest three lists per form level, a form's datum as deep).  */
#define INPUT_PAIRS 4000000
#define INPUT_DEPTH (2 * (3 * LOWER_MAX_DEPTH + 8) + 64)
/* Nodes nest at most this deep in a tree the passes made.  */
#define NODE_DEPTH (3 * LOWER_MAX_DEPTH + 8)

static SCM
sym (const char *s)
{
  return scm_from_utf8_symbol (s);
}

struct rd
{
  struct lower *L;
  int from;                     /* the first pass to run: 1 resolve ... */
  int max_slot;                 /* highest local slot named */
  SCM maps, consts;             /* seen in the nodes, newest first */
  struct node *where;           /* nearest located node, for errors */
  SCM state;                    /* the root's state attributes */
  int body_slots;               /* locals the body binds (not inlines') */
};

enum { FROM_RESOLVE = 1, FROM_TYPES, FROM_BOUNDS, FROM_EMIT };

static SCM_NORETURN void
bad (struct rd *R, SCM x, const char *what, ...)
  __attribute__ ((format (printf, 3, 4)));

static SCM_NORETURN void
bad (struct rd *R, SCM x, const char *what, ...)
{
  char msg[512];
  va_list ap;
  va_start (ap, what);
  vsnprintf (msg, sizeof msg, what, ap);
  va_end (ap);
  struct node *n = gebpf_node (R->L, OP_BEGIN, R->where);
  n->datum = x;
  gebpf_lower_error (R->L, n, "give a tree as bpf-fn-ast prints it "
                     "(see \"The lowering pipeline\" in the manual)",
                     "bad tree: %s", msg);
}

/* Proper, acyclic, bounded: checked once over the whole input, so that
   everything after may recurse through it and print it.  */
static void
check_input (struct rd *R, SCM x, int depth, long *pairs)
{
  if (scm_is_vector (x))
    bad (R, SCM_BOOL_F, "a vector (trees hold lists and atoms)");
  if (!scm_is_pair (x))
    return;
  if (depth > INPUT_DEPTH)
    bad (R, SCM_BOOL_F, "lists nested deeper than %d (or circular)",
         INPUT_DEPTH);
  SCM slow = x, fast = x;
  while (scm_is_pair (fast) && scm_is_pair (SCM_CDR (fast)))
    {
      fast = SCM_CDDR (fast);
      slow = SCM_CDR (slow);
      if (scm_is_eq (fast, slow))
        bad (R, SCM_BOOL_F, "a circular list");
    }
  for (; scm_is_pair (x); x = SCM_CDR (x))
    {
      if (++*pairs > INPUT_PAIRS)
        bad (R, SCM_BOOL_F, "more than %d pairs", INPUT_PAIRS);
      check_input (R, SCM_CAR (x), depth + 1, pairs);
    }
  if (scm_is_vector (x))
    bad (R, SCM_BOOL_F, "a vector (trees hold lists and atoms)");
}

static int
name_index (struct rd *R, SCM x, const char *const *names, int n,
            const char *what)
{
  if (scm_is_symbol (x))
    for (int i = 0; i < n; i++)
      if (strcmp (gebpf_sym_str (x), names[i]) == 0)
        return i;
  bad (R, x, "unknown %s", what);
}

static int
int_in (struct rd *R, SCM x, long lo, long hi, const char *what)
{
  if (!scm_is_signed_integer (x, lo, hi))
    bad (R, x, "%s must be an integer between %ld and %ld", what, lo, hi);
  return scm_to_int (x);
}

static bool
bool_of (struct rd *R, SCM x, const char *what)
{
  if (!scm_is_bool (x))
    bad (R, x, "%s must be #t or #f", what);
  return scm_is_true (x);
}

static const struct gebpf_type *
type_of (struct rd *R, SCM x, const char *what)
{
  const struct gebpf_type *t = gebpf_type_from_scm (x);
  if (!t)
    bad (R, x, "%s must be a <bpf-type>", what);
  return t;
}

static char *
gc_name (SCM s)
{
  char *c = scm_to_utf8_string (scm_is_symbol (s) ? scm_symbol_to_string (s)
                                : s);
  char *g = scm_gc_strdup (c, "name");
  free (c);
  return g;
}

/* A C identifier; with DASH, one in Scheme spelling ('-' for '_').  */
static bool
ident_p (const char *s, bool dash)
{
  if (!s || !*s || strlen (s) > 120 || (*s >= '0' && *s <= '9'))
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
          || (*s >= '0' && *s <= '9') || *s == '_' || (dash && *s == '-')))
      return false;
  return true;
}

static bool
c_ident_p (const char *s)
{
  return ident_p (s, false);
}

/* A core-read field: a C identifier, or before the types pass picks
   one, the names it may have on different kernels joined by '|'.  */
static bool
core_field_p (const char *s)
{
  const char *bar = strchr (s, '|');
  if (!bar)
    return c_ident_p (s);
  size_t n = bar - s;
  char first[128];
  if (n == 0 || n >= sizeof first)
    return false;
  memcpy (first, s, n);
  first[n] = 0;
  return c_ident_p (first) && core_field_p (bar + 1);
}

static bool
c_name_p (const char *s)
{
  return ident_p (s, true);
}

/* The typed-value attributes of one (KEY . VALUE); false if KEY is not
   one of them.  */
struct typed
{
  enum ty ty;
  const struct gebpf_type *vt;
  enum hdr hdr;
  bool is_signed;
  int btf_id;
};

static bool
typed_attr (struct rd *R, SCM key, SCM v, struct typed *t)
{
  const char *k = gebpf_sym_str (key);
  if (!strcmp (k, "type"))
    t->ty = name_index (R, v, gebpf_tree_ty_names, GEBPF_NTY, "type");
  else if (!strcmp (k, "value-type"))
    t->vt = type_of (R, v, "value-type");
  else if (!strcmp (k, "header"))
    t->hdr = name_index (R, v, gebpf_tree_hdr_names, GEBPF_NHDR, "header");
  else if (!strcmp (k, "signed"))
    t->is_signed = bool_of (R, v, "signed");
  else if (!strcmp (k, "btf-id"))
    t->btf_id = int_in (R, v, -1, INT32_MAX, "btf-id");
  else
    return false;
  return true;
}

static void
read_typed (struct rd *R, SCM alist, struct typed *t)
{
  *t = (struct typed) { 0 };
  if (scm_ilength (alist) < 0)
    bad (R, alist, "attributes must be a list of (NAME . VALUE)");
  for (SCM l = alist; scm_is_pair (l); l = SCM_CDR (l))
    if (!scm_is_pair (SCM_CAR (l)) || !scm_is_symbol (SCM_CAAR (l))
        || !typed_attr (R, SCM_CAAR (l), SCM_CDAR (l), t))
      bad (R, SCM_CAR (l), "unknown attribute");
}

static bool
is_inline_obj (SCM x)
{
  static SCM p;
  if (!p)
    p = scm_permanent_object (scm_c_public_ref ("ebpf fn", "bpf-inline?"));
  return scm_is_true (scm_call_1 (p, x));
}

/* The op spelt SYM, or -1.  */
static int
op_of (SCM s)
{
  if (!scm_is_symbol (s))
    return -1;
  const char *name = gebpf_sym_str (s);
  for (int op = 0; op < OP__COUNT; op++)
    if (strcmp (gebpf_op_name (op), name) == 0)
      return op;
  return -1;
}

static bool
is_map_op (enum op op)
{
  switch (op)
    {
    case OP_MAP_GET: case OP_MAP_REF: case OP_MAP_SET: case OP_MAP_DELETE:
    case OP_MAP_INC: case OP_HIST: case OP_LHIST: case OP_EMIT:
    case OP_PERF_EMIT: case OP_REDIRECT_MAP: case OP_UNDER_CGROUP:
      return true;
    default:
      return false;
    }
}

static bool
made_by_resolve (enum op op)
{
  switch (op)
    {
    case OP_LOCAL: case OP_CTX: case OP_MAPREF: case OP_FIELD:
    case OP_STRUCT_REF: case OP_MAKE_STRUCT: case OP_INLINE_CALL:
      return true;
    default:
      return false;
    }
}

/* What a node is to its parent: most are expressions; a let's first
   kid lists its bindings, each a set! that types gives the local's type
   alone (the local, not the set!, carries the value type).  */
enum role { EXPR, BINDINGS, BINDING };

static struct node *read_node (struct rd *R, SCM x, int depth,
                               enum role role);

static void
note_slot (struct rd *R, SCM x, int slot)
{
  if (slot < -1)
    bad (R, x, "slot %d", slot);
  if (slot > R->max_slot)
    R->max_slot = slot;
}

static void
read_attrs (struct rd *R, SCM x, struct node *n, SCM attrs, SCM *state)
{
  struct typed t = { 0 };
  for (SCM l = attrs; scm_is_pair (l); l = SCM_CDR (l))
    {
      SCM a = SCM_CAR (l);
      if (!scm_is_pair (a) || !scm_is_symbol (SCM_CAR (a)))
        bad (R, x, "an attribute is (NAME . VALUE), not %s", gebpf_repr (a));
      SCM v = SCM_CDR (a);
      const char *k = gebpf_sym_str (SCM_CAR (a));
      if (typed_attr (R, SCM_CAR (a), v, &t))
        continue;
      if (!strcmp (k, "slot"))
        n->slot = int_in (R, v, -1, 1 << 20, "slot");
      else if (!strcmp (k, "field"))
        n->field = int_in (R, v, -1, 1 << 20, "field");
      else if (!strcmp (k, "struct"))
        n->st = type_of (R, v, "struct");
      else if (!strcmp (k, "ref"))
        n->ref = v;
      else if (!strcmp (k, "stack"))
        {
          if (!scm_is_pair (v) || !GEBPF_IS (SCM_CAR (v), gebpf_map_type)
              || !scm_is_symbol (SCM_CDR (v)))
            bad (R, x, "stack must be (STACK-MAP . MODE)");
          n->stack = v;
        }
      else if (!strcmp (k, "ipv6"))
        {
          if (!scm_is_bytevector (v) || SCM_BYTEVECTOR_LENGTH (v) != 16)
            bad (R, x, "ipv6 must be a bytevector of 16 bytes");
          memcpy (n->addr6, SCM_BYTEVECTOR_CONTENTS (v), 16);
        }
      else if (!strcmp (k, "quoted"))
        n->quoted = bool_of (R, v, "quoted");
      else if (!strcmp (k, "uneg"))
        n->uneg = bool_of (R, v, "uneg");
      else if (!strcmp (k, "ival"))
        {
          if (!scm_is_signed_integer (v, INT64_MIN, INT64_MAX))
            bad (R, x, "ival must be a 64-bit integer");
          n->ival = scm_to_int64 (v);
        }
      else if (!strcmp (k, "line"))
        n->line = int_in (R, v, 0, INT32_MAX, "line");
      else if (!strcmp (k, "column"))
        n->col = int_in (R, v, 0, INT32_MAX, "column");
      else if (!strcmp (k, "file"))
        {
          if (!scm_is_string (v) && !scm_is_false (v))
            bad (R, x, "file must be a string or #f");
          n->file = v;
        }
      else if (!strcmp (k, "form"))
        n->datum = v;
      else if (state)
        *state = scm_cons (a, *state);
      else
        bad (R, x, "unknown attribute %s", k);
    }
  n->ty = t.ty;
  n->vt = t.vt;
  n->hdr = t.hdr;
  n->is_signed = t.is_signed;
  n->btf_id = t.btf_id;
}

/* Does N have the shape the pass it feeds, and every later one,
   dereferences?  X is its text, for the error.  */
static void
check_node (struct rd *R, SCM x, struct node *n, enum role role)
{
  enum op op = n->op;
  int nk = n->nkid;
  const struct form *f = gebpf_form_lookup (gebpf_op_name (op));
  int from = R->from;
  for (int i = 0; i < nk; i++)
    if (!n->kid[i] && op != OP_MAKE_STRUCT)
      bad (R, x, "only make-struct leaves kids out (#f)");
  if (from == FROM_RESOLVE && made_by_resolve (op))
    bad (R, x, "%s is made by the resolve pass, not given to it",
         gebpf_op_name (op));
  if (from > FROM_RESOLVE && op == OP_APPLY)
    bad (R, x, "unresolved application of %s", n->name);
  if (from > FROM_RESOLVE && op == OP_SYM && !n->quoted)
    bad (R, x, "unbound symbol %s after resolve", n->name);
  if ((n->ty == TY_VALUE || n->ty == TY_VALPTR) && !n->vt
      && role != BINDING)
    bad (R, x, "a value type needs its value-type");
  if (n->ty == TY_MAP && op != OP_MAPREF)
    bad (R, x, "only a map reference has type map");
  if ((op == OP_ARG || op == OP_RETVAL) && scm_is_true (n->ref))
    {
      /* A tracepoint field's offsets by probe (bounds.c): numbers the
         emitter writes into C.  */
      bool ok = scm_is_vector (n->ref) && scm_c_vector_length (n->ref) > 0
        && scm_c_vector_length (n->ref) <= 4096;
      for (size_t i = 0; ok && i < scm_c_vector_length (n->ref); i++)
        {
          SCM o = scm_c_vector_ref (n->ref, i);
          ok = scm_is_signed_integer (o, 0, 65535);
        }
      if (!ok)
        bad (R, x, "an %s's ref is its offsets by probe, a vector of "
             "integers 0..65535", gebpf_op_name (op));
    }
  switch (op)
    {
    case OP_INT: case OP_BOOL: case OP_STR: case OP_SYM: case OP_KEYWORD:
    case OP_CTX: case OP_CONST:
      if (nk)
        bad (R, x, "a %s has no kids", gebpf_op_name (op));
      if (op == OP_CONST && !c_name_p (n->name))
        bad (R, x, "const names a C identifier");
      return;
    case OP_BEGIN:
      return;
    case OP_LOCAL:
      if (nk || n->slot < 0)
        bad (R, x, "a local is (local (@ (slot . N)))");
      note_slot (R, x, n->slot);
      return;
    case OP_MAPREF:
      if (nk || !GEBPF_IS (n->ref, gebpf_map_type))
        bad (R, x, "a map reference is (map (@ (ref . <bpf-map>)))");
      if (scm_is_false (scm_memq (n->ref, R->maps)))
        R->maps = scm_cons (n->ref, R->maps);
      return;
    case OP_LET: case OP_LETSTAR:
      if (nk != 2 || n->kid[0]->op != OP_BEGIN || n->kid[1]->op != OP_BEGIN
          || n->kid[1]->nkid < 1)
        bad (R, x, "let is (let (begin (set! VAR INIT) ...) "
             "(begin BODY ...))");
      for (int i = 0; i < n->kid[0]->nkid; i++)
        if (n->kid[0]->kid[i]->op != OP_SET || n->kid[0]->kid[i]->nkid != 1)
          bad (R, x, "a let binding is (set! VAR INIT)");
      return;
    case OP_SET:
      if (nk != 1 || !n->name)
        bad (R, x, "set! is (set! VAR EXPR)");
      note_slot (R, x, n->slot);
      if (from > FROM_RESOLVE && n->slot < 0)
        bad (R, x, "set! of a resolved tree names its slot");
      return;
    case OP_DO_TIMES:
      if (nk != 2 || n->kid[1]->op != OP_BEGIN)
        bad (R, x, "do-times is (do-times VAR COUNT (begin BODY ...))");
      note_slot (R, x, n->slot);
      if (from > FROM_RESOLVE && n->slot < 0)
        bad (R, x, "do-times of a resolved tree names its slot");
      return;
    case OP_COND:
      if (nk < 1)
        bad (R, x, "cond needs a clause");
      for (int i = 0; i < nk; i++)
        if (n->kid[i]->op != OP_BEGIN || n->kid[i]->nkid < 1)
          bad (R, x, "a cond clause is (begin TEST BODY ...)");
      return;
    case OP_CASE:
      if (nk < 2)
        bad (R, x, "case needs a clause");
      for (int i = 1; i < nk; i++)
        {
          struct node *cl = n->kid[i];
          bool els = cl->name && !strcmp (cl->name, "else");
          if (cl->op != OP_BEGIN || cl->nkid < 1
              || (!els && scm_ilength (cl->datum) < 1))
            bad (R, x, "a case clause is (begin BODY ... "
                 "(@ (form INT ...)))");
          if (!els)
            for (SCM d = cl->datum; scm_is_pair (d); d = SCM_CDR (d))
              {
                SCM v = SCM_CAR (d);
                long kv;
                if ((scm_is_keyword (v) || scm_is_symbol (v))
                    && gebpf_keyword_const (gebpf_sym_str
                                            (gebpf_enum_symbol (v)), &kv))
                  continue;
                if (!scm_is_signed_integer (v, INT64_MIN, INT64_MAX))
                  bad (R, x, "case data are integers or keyword constants");
              }
        }
      return;
    case OP_CALL:
      {
        const struct helper *h = n->name ? gebpf_helper_lookup (n->name)
          : NULL;
        if (!h || nk != h->nargs)
          bad (R, x, "call names a helper and passes its arguments");
        return;
      }
    case OP_ARG:
    case OP_USDT_ARG:
      if (nk != 2)
        bad (R, x, "%s takes two kids", gebpf_op_name (op));
      if (n->kid[1]->op == OP_SYM ? op == OP_USDT_ARG
          : !(n->kid[1]->op == OP_INT && !n->kid[1]->uneg
              && n->kid[1]->ival >= 0 && n->kid[1]->ival <= 11))
        bad (R, x, "the position is an integer 0..11%s",
             op == OP_ARG ? " or a quoted field name" : "");
      return;
    case OP_CORE_READ:
      if (nk < 2)
        bad (R, x, "core-read takes a pointer and field names");
      for (int i = 1; i < nk; i++)
        if (n->kid[i]->op != OP_SYM || !core_field_p (n->kid[i]->name))
          bad (R, x, "core-read fields are C identifiers");
      return;
    case OP_READ_USER: case OP_READ_KERNEL:
      if (nk != 1 || !n->st)
        bad (R, x, "%s is (%s PTR (@ (struct . TYPE)))", gebpf_op_name (op),
             gebpf_op_name (op));
      return;
    case OP_IPV4_CONST: case OP_IPV6_CONST:
      /* Types reads the string and drops it.  */
      if (nk > 1 || (nk == 1 && n->kid[0]->op != OP_STR)
          || (from <= FROM_TYPES && nk != 1))
        bad (R, x, "an address is a string literal");
      return;
    case OP_SET_FIELD:
      if (nk != 3 || n->kid[1]->op != OP_STR)
        bad (R, x, "set-field! is (set-field! HEADER \"FIELD\" VALUE)");
      if (from > FROM_TYPES && n->kid[0]->op == OP_CTX)
        {
          if (!gebpf_ctxfield (n->field))
            bad (R, x, "set-field!'s context field index");
        }
      else if (from > FROM_TYPES && n->st)
        {
          if (n->st->kind != GT_STRUCT || n->field < 0
              || (size_t) n->field >= n->st->nfields)
            bad (R, x, "set-field!'s struct field index");
        }
      else if (from > FROM_TYPES)
        {
          int i;
          for (i = 0; i <= n->field && gebpf_sfield (i)->name; i++)
            ;
          if (n->field < 0 || i <= n->field)
            bad (R, x, "set-field!'s field index");
        }
      return;
    case OP_CTX_FIELD:
      if (nk != 2 || n->kid[1]->op != OP_STR)
        bad (R, x, "ctx-field is (ctx-field CTX \"FIELD\")");
      if (from > FROM_TYPES && !gebpf_ctxfield (n->field))
        bad (R, x, "ctx-field's field index");
      return;
    case OP_PRINTK:
      if (nk < 1 || nk > 4 || n->kid[0]->op != OP_STR)
        bad (R, x, "printk is (printk \"FORMAT\" ARG ...)");
      return;
    case OP_PERF_EMIT:
      if ((nk != 2 && nk != 4)
          || (nk == 4 && (n->kid[2]->op != OP_KEYWORD
                          || strcmp (n->kid[2]->name, "packet-bytes"))))
        bad (R, x, "perf-emit! is (perf-emit! MAP VALUE [#:packet-bytes N])");
      return;
    case OP_STACK_ID:
      if (nk != 2 && nk != 4)
        bad (R, x, "stack-id is (stack-id CTX MAP [#:user? VALUE])");
      if (nk == 4 && n->kid[2]->op != OP_KEYWORD)
        bad (R, x, "stack-id's third kid is #:user?");
      if (from > FROM_RESOLVE && n->kid[1]->op != OP_MAPREF)
        bad (R, x, "stack-id's map is a map reference");
      return;
    case OP_KSTACK: case OP_USTACK:
      if (from == FROM_RESOLVE ? nk != 0
          : nk != 1 || n->kid[0]->op != OP_MAPREF)
        bad (R, x, "%s", from == FROM_RESOLVE ? "a stack takes no kids"
             : "a resolved stack's kid is its map");
      return;
    case OP_FIELD:
      {
        int i;
        for (i = 0; i <= n->field && gebpf_hfield (i)->name; i++)
          ;
        if (nk != 1 || n->field < 0 || i <= n->field)
          bad (R, x, "a header field is (field HEADER (@ (field . INDEX)))");
        return;
      }
    case OP_CORE_CAST:
      if (nk != 2 || n->kid[1]->op != OP_SYM || !c_ident_p (n->kid[1]->name))
        bad (R, x, "core-cast is (core-cast PTR (symbol STRUCT))");
      return;
    case OP_DEREF:
      if (nk != 1 || from <= FROM_TYPES)
        bad (R, x, "deref is made by the types pass around a map-get "
             "pointer, and has one kid");
      return;
    case OP_STRUCT_REF:
      if (nk != 1 || !n->st || n->st->kind != GT_STRUCT || n->field < 0
          || (size_t) n->field >= n->st->nfields)
        bad (R, x, "a struct field is (struct-ref VALUE (@ (struct . S) "
             "(field . INDEX)))");
      return;
    case OP_MAKE_STRUCT:
      if (!n->st || n->st->kind != GT_STRUCT
          || (size_t) nk != n->st->nfields)
        bad (R, x, "make-struct has one kid (or #f) per field of its struct");
      return;
    case OP_INLINE_CALL:
      if (!is_inline_obj (n->ref))
        bad (R, x, "inline-call's ref is a define-bpf-inline");
      if (from > FROM_TYPES && !c_ident_p (n->name))
        bad (R, x, "a typed inline-call names its instance");
      return;
    case OP_APPLY:
      if (!n->name)
        bad (R, x, "an application names what it applies");
      return;
    default:
      break;
    }
  if (f && (nk < f->min || (f->max >= 0 && nk > f->max)))
    bad (R, x, "%s takes %d to %d kids", f->name, f->min, f->max);
  if (is_map_op (op) && from > FROM_RESOLVE && n->kid[0]->op != OP_MAPREF)
    bad (R, x, "%s's first kid is a map reference", gebpf_op_name (op));
}

static struct node *
read_node (struct rd *R, SCM x, int depth, enum role role)
{
  if (!scm_is_pair (x))
    bad (R, x, "a node is a list (OP ...)");
  if (depth > NODE_DEPTH)
    bad (R, x, "nodes nested deeper than %d", NODE_DEPTH);
  int op = op_of (SCM_CAR (x));
  if (op < 0)
    bad (R, x, "unknown op %s", gebpf_repr (SCM_CAR (x)));
  struct node *n = gebpf_node (R->L, op, NULL);
  n->name = (char *) gebpf_op_name (op);
  SCM items = SCM_CDR (x);
  /* The attributes: a last item (@ ...).  */
  SCM attrs = SCM_EOL;
  long len = scm_ilength (items);
  if (len < 0)
    bad (R, x, "a node is a proper list");
  if (len > 0)
    {
      SCM last = scm_car (scm_last_pair (items));
      if (scm_is_pair (last) && scm_is_eq (SCM_CAR (last), sym ("@")))
        {
          attrs = SCM_CDR (last);
          if (scm_ilength (attrs) < 0)
            bad (R, x, "attributes are a proper list");
          items = scm_list_head (items, scm_from_long (len - 1));
          len--;
        }
    }
  read_attrs (R, x, n, attrs, depth == 0 ? &R->state : NULL);
  struct node *saved = R->where;
  if (n->line)
    R->where = n;
  switch (op)
    {
    case OP_INT:
      if (!len || !scm_is_exact_integer (SCM_CAR (items)))
        bad (R, x, "an int leaf is (int VALUE)");
      if (scm_is_signed_integer (SCM_CAR (items), INT64_MIN, -1))
        {
          n->ival = scm_to_int64 (SCM_CAR (items));
          n->uneg = true;
        }
      else if (scm_is_unsigned_integer (SCM_CAR (items), 0, UINT64_MAX))
        n->ival = (int64_t) scm_to_uint64 (SCM_CAR (items));
      else
        bad (R, x, "integer out of range (between -2^63 and 2^64-1)");
      n->name = NULL;
      items = SCM_CDR (items);
      break;
    case OP_BOOL:
      if (!len || !scm_is_bool (SCM_CAR (items)))
        bad (R, x, "a bool leaf is (bool #t) or (bool #f)");
      n->ival = scm_is_true (SCM_CAR (items));
      n->name = NULL;
      items = SCM_CDR (items);
      break;
    case OP_STR:
      if (!len || !scm_is_string (SCM_CAR (items)))
        bad (R, x, "a string leaf is (string \"TEXT\")");
      n->name = gc_name (SCM_CAR (items));
      items = SCM_CDR (items);
      break;
    default:
      if (len && scm_is_symbol (SCM_CAR (items)))
        {
          n->name = gc_name (SCM_CAR (items));
          items = SCM_CDR (items);
        }
    }
  long nk = scm_ilength (items);
  n->nkid = nk;
  n->kid = scm_gc_malloc ((nk ? nk : 1) * sizeof *n->kid, "kids");
  long i = 0;
  for (SCM l = items; scm_is_pair (l); l = SCM_CDR (l), i++)
    n->kid[i] = scm_is_false (SCM_CAR (l)) ? NULL
      : read_node (R, SCM_CAR (l), depth + 1,
                   role == BINDINGS ? BINDING
                   : (op == OP_LET || op == OP_LETSTAR) && i == 0 ? BINDINGS
                   : EXPR);
  check_node (R, x, n, role);
  if (op == OP_CONST)
    {
      SCM s = sym (n->name);
      if (scm_is_false (scm_memq (s, R->consts)))
        R->consts = scm_cons (s, R->consts);
    }
  R->where = saved;
  return n;
}

/* The root's state attributes into L.  */
static void
read_state (struct rd *R, SCM x, SCM state)
{
  struct lower *L = R->L;
  SCM locals = SCM_EOL, maps = SCM_BOOL_F, consts = SCM_BOOL_F;
  SCM inlines = SCM_EOL;
  for (SCM l = scm_reverse (state); scm_is_pair (l); l = SCM_CDR (l))
    {
      const char *k = gebpf_sym_str (SCM_CAAR (l));
      SCM v = SCM_CDAR (l);
      if (!strcmp (k, "locals"))
        locals = v;
      else if (!strcmp (k, "maps"))
        maps = v;
      else if (!strcmp (k, "consts"))
        consts = v;
      else if (!strcmp (k, "inlines"))
        inlines = v;
      else if (!strcmp (k, "stack-locals"))
        {
          if (scm_ilength (v) < 0)
            bad (R, x, "stack-locals is ((SLOT . STACK) ...)");
          SCM out = SCM_EOL;
          for (SCM s = v; scm_is_pair (s); s = SCM_CDR (s))
            {
              SCM e = SCM_CAR (s);
              if (!scm_is_pair (e) || !scm_is_signed_integer (SCM_CAR (e), 0,
                                                              1 << 20)
                  || !(scm_is_false (SCM_CDR (e))
                       || (scm_is_pair (SCM_CDR (e))
                           && GEBPF_IS (SCM_CADR (e), gebpf_map_type)
                           && scm_is_symbol (SCM_CDDR (e)))))
                bad (R, e, "a stack local is (SLOT . #f) or (SLOT STACK-MAP "
                     ". MODE)");
              out = scm_cons (e, out);
            }
          L->stack_locals = out;
        }
      else if (!strcmp (k, "core-members"))
        {
          if (scm_ilength (v) < 0)
            bad (R, x, "core-members is ((BTF-ID . \"MEMBER\") ...)");
          const struct btf *b = L->tgt.btf;
          SCM out = SCM_EOL;
          for (SCM s = v; scm_is_pair (s); s = SCM_CDR (s))
            {
              SCM e = SCM_CAR (s);
              if (!scm_is_pair (e) || !scm_is_signed_integer (SCM_CAR (e), 1,
                                                              INT32_MAX)
                  || !scm_is_string (SCM_CDR (e)))
                bad (R, e, "a CO-RE member is (BTF-ID . \"MEMBER\")");
              if (b)
                {
                  int id = scm_to_int (SCM_CAR (e));
                  const struct btf_type *t = (unsigned) id < btf__type_cnt (b)
                    ? btf__type_by_id (b, id) : NULL;
                  if (!t || !(btf_is_struct (t) || btf_is_union (t)))
                    bad (R, e, "BTF id %d is not a struct or union", id);
                }
              out = scm_cons (e, out);
            }
          L->core_members = out;
        }
      else if (!strcmp (k, "vmlinux"))
        L->uses_vmlinux = bool_of (R, v, "vmlinux");
      else if (!strcmp (k, "probe"))
        L->uses_probe = bool_of (R, v, "probe");
      else if (!strcmp (k, "packet-layers"))
        L->packet_layers = int_in (R, v, 0, (1 << GEBPF_NHDR) - 1,
                                   "packet-layers");
      else
        bad (R, SCM_CAR (l), "unknown attribute %s", k);
    }

  /* Locals: the list given, or as many as the slots named.  */
  long nl = scm_ilength (locals);
  if (nl < 0 || nl > (1 << 20))
    bad (R, x, "locals is ((NAME (ATTR . VALUE) ...) ...)");
  SCM ilist = inlines;
  if (scm_ilength (ilist) < 0)
    bad (R, x, "inlines is a list of (inline \"C-NAME\" (@ ...) BODY)");
  /* Read the inline bodies first: their slots count too.  */
  struct inline_inst *insts = NULL, **tail = &insts;
  int ninsts = 0;
  for (SCM s = ilist; scm_is_pair (s); s = SCM_CDR (s), ninsts++)
    {
      SCM e = SCM_CAR (s);
      if (scm_ilength (e) != 4 || !scm_is_eq (SCM_CAR (e), sym ("inline"))
          || !scm_is_string (SCM_CADR (e)) || !scm_is_pair (SCM_CADDR (e))
          || !scm_is_eq (SCM_CAR (SCM_CADDR (e)), sym ("@")))
        bad (R, e, "an inline is (inline \"C-NAME\" (@ (object . INLINE) "
             "(slots N ...) (params ATTRS ...) (return . ATTRS)) BODY)");
      struct inline_inst *in = scm_gc_malloc (sizeof *in, "inst");
      memset (in, 0, sizeof *in);
      in->cname = gc_name (SCM_CADR (e));
      if (!c_ident_p (in->cname))
        bad (R, e, "an inline's C name is a C identifier");
      SCM obj = SCM_BOOL_F, slots = SCM_EOL, params = SCM_EOL, ret = SCM_EOL;
      for (SCM a = SCM_CDR (SCM_CADDR (e)); scm_is_pair (a); a = SCM_CDR (a))
        {
          if (!scm_is_pair (SCM_CAR (a)) || !scm_is_symbol (SCM_CAAR (a)))
            bad (R, e, "an inline's attribute is (NAME . VALUE)");
          const char *k = gebpf_sym_str (SCM_CAAR (a));
          SCM v = SCM_CDAR (a);
          if (!strcmp (k, "object"))
            obj = v;
          else if (!strcmp (k, "slots"))
            slots = v;
          else if (!strcmp (k, "params"))
            params = v;
          else if (!strcmp (k, "return"))
            ret = v;
          else
            bad (R, e, "unknown inline attribute %s", k);
        }
      if (!is_inline_obj (obj))
        bad (R, e, "an inline's object is a define-bpf-inline");
      in->obj = obj;
      long np = scm_ilength (slots);
      if (np < 0 || np > 64 || scm_ilength (params) != np)
        bad (R, e, "an inline has as many params as slots");
      in->nparams = np;
      in->slots = scm_gc_malloc_pointerless (np * sizeof (int) + 1, "slots");
      in->pty = scm_gc_malloc_pointerless (np * sizeof (enum ty) + 1, "p");
      in->pvt = scm_gc_malloc (np * sizeof (void *) + 1, "p");
      in->phdr = scm_gc_malloc_pointerless (np * sizeof (enum hdr) + 1, "p");
      int i = 0;
      for (SCM p = params, sl = slots; scm_is_pair (p);
           p = SCM_CDR (p), sl = SCM_CDR (sl), i++)
        {
          struct typed t;
          read_typed (R, SCM_CAR (p), &t);
          in->pty[i] = t.ty;
          in->pvt[i] = t.vt;
          in->phdr[i] = t.hdr;
          in->slots[i] = int_in (R, SCM_CAR (sl), 0, 1 << 20, "slot");
          note_slot (R, e, in->slots[i]);
        }
      struct typed t;
      read_typed (R, ret, &t);
      in->rty = t.ty;
      in->rvt = t.vt;
      in->rhdr = t.hdr;
      in->body = read_node (R, SCM_CADDDR (e), 1, EXPR);
      *tail = in;
      tail = &in->next;
    }
  L->insts = insts;
  L->ninsts = ninsts;

  int n = nl > R->max_slot + 1 ? nl : R->max_slot + 1;
  if (nl && n > nl)
    bad (R, x, "a slot beyond the %ld locals", nl);
  L->nlocals = L->local_cap = n;
  L->local_names = scm_gc_malloc ((n + 1) * sizeof (SCM), "locals");
  L->local_ty = scm_gc_malloc_pointerless ((n + 1) * sizeof (enum ty), "l");
  L->local_vt = scm_gc_malloc ((n + 1) * sizeof (void *), "l");
  L->local_hdr = scm_gc_malloc_pointerless ((n + 1) * sizeof (enum hdr), "l");
  L->local_signed = scm_gc_malloc_pointerless (n + 1, "l");
  L->local_btf = scm_gc_malloc_pointerless ((n + 1) * sizeof (int), "l");
  int i = 0;
  for (SCM s = locals; scm_is_pair (s); s = SCM_CDR (s), i++)
    {
      SCM e = SCM_CAR (s);
      if (!scm_is_pair (e) || !scm_is_symbol (SCM_CAR (e)))
        bad (R, e, "a local is (NAME (ATTR . VALUE) ...)");
      struct typed t;
      read_typed (R, SCM_CDR (e), &t);
      L->local_names[i] = SCM_CAR (e);
      L->local_ty[i] = t.ty;
      L->local_vt[i] = t.vt;
      L->local_hdr[i] = t.hdr;
      L->local_signed[i] = t.is_signed;
      L->local_btf[i] = t.btf_id;
    }
  for (; i < n; i++)
    {
      char name[32];
      snprintf (name, sizeof name, "v%d", i);
      L->local_names[i] = sym (name);
      L->local_ty[i] = TY_UNKNOWN;
      L->local_vt[i] = NULL;
      L->local_hdr[i] = H_NONE;
      L->local_signed[i] = false;
      L->local_btf[i] = 0;
    }

  /* Maps and constants: those given, then any other a node names.  */
  SCM out = SCM_EOL;
  if (scm_is_true (maps))
    {
      if (scm_ilength (maps) < 0)
        bad (R, x, "maps is a list of <bpf-map>");
      for (SCM s = maps; scm_is_pair (s); s = SCM_CDR (s))
        {
          if (!GEBPF_IS (SCM_CAR (s), gebpf_map_type))
            bad (R, SCM_CAR (s), "maps holds <bpf-map>s");
          if (scm_is_false (scm_memq (SCM_CAR (s), out)))
            out = scm_cons (SCM_CAR (s), out);
        }
    }
  for (SCM s = scm_reverse (R->maps); scm_is_pair (s); s = SCM_CDR (s))
    if (scm_is_false (scm_memq (SCM_CAR (s), out)))
      out = scm_cons (SCM_CAR (s), out);
  L->maps = out;
  out = SCM_EOL;
  if (scm_is_true (consts))
    {
      if (scm_ilength (consts) < 0)
        bad (R, x, "consts is a list of symbols");
      for (SCM s = consts; scm_is_pair (s); s = SCM_CDR (s))
        {
          if (!scm_is_symbol (SCM_CAR (s))
              || !c_name_p (gebpf_sym_str (SCM_CAR (s))))
            bad (R, SCM_CAR (s), "consts holds C identifiers");
          if (scm_is_false (scm_memq (SCM_CAR (s), out)))
            out = scm_cons (SCM_CAR (s), out);
        }
    }
  for (SCM s = scm_reverse (R->consts); scm_is_pair (s); s = SCM_CDR (s))
    if (scm_is_false (scm_memq (SCM_CAR (s), out)))
      out = scm_cons (SCM_CAR (s), out);
  L->consts = out;
}

/* An inline call's instance, once types has chosen it.  */
static void
check_calls (struct rd *R, struct node *n)
{
  if (!n)
    return;
  if (n->op == OP_INLINE_CALL && R->from > FROM_TYPES)
    {
      struct inline_inst *in = R->L->insts;
      for (int i = 0; in && i < n->slot; i++)
        in = in->next;
      if (n->slot < 0 || !in || strcmp (in->cname, n->name) != 0)
        bad (R, n->datum, "inline-call %s names no instance of the tree's "
             "inlines", n->name);
    }
  for (int i = 0; i < n->nkid; i++)
    check_calls (R, n->kid[i]);
}

/* Do the kernel pointers name types of the vmlinux BTF at hand?  */
static void
check_btf (struct rd *R, struct node *n)
{
  if (!n)
    return;
  if (n->btf_id > 0)
    {
      const struct btf *b = R->L->tgt.btf;
      if (!b || (unsigned) n->btf_id >= btf__type_cnt (b))
        bad (R, n->datum, "btf-id %d is not a type of the kernel's BTF",
             n->btf_id);
    }
  for (int i = 0; i < n->nkid; i++)
    check_btf (R, n->kid[i]);
}

/* A typed tree back to what resolve gave the types pass: the fields
   types, types-core and bounds set are cleared, an address constant
   gets back its string and an inline call its name.  */
static struct node *
untyped (struct node *n)
{
  if (!n)
    return NULL;
  if (n->op == OP_DEREF && n->nkid == 1)
    return untyped (n->kid[0]);   /* the types pass makes it again */
  struct node *c = scm_gc_malloc (sizeof *c, "bpf-node");
  *c = *n;
  c->kid = scm_gc_malloc ((n->nkid + 1) * sizeof *c->kid, "kids");
  for (int i = 0; i < n->nkid; i++)
    c->kid[i] = untyped (n->kid[i]);
  if ((n->op == OP_IPV4_CONST || n->op == OP_IPV6_CONST) && n->nkid == 0)
    {
      char text[INET6_ADDRSTRLEN];
      uint32_t a4 = htonl ((uint32_t) n->ival);
      if (!inet_ntop (n->op == OP_IPV4_CONST ? AF_INET : AF_INET6,
                      n->op == OP_IPV4_CONST ? (void *) &a4
                      : (void *) n->addr6, text, sizeof text))
        text[0] = 0;
      struct node *str = gebpf_node (NULL, OP_STR, n);
      str->name = scm_gc_strdup (text, "addr");
      c->kid[0] = str;
      c->nkid = 1;
    }
  if (n->op == OP_INLINE_CALL)
    {
      static SCM name_of;
      if (!name_of)
        name_of = scm_permanent_object
          (scm_c_public_ref ("ebpf fn", "bpf-inline-name"));
      c->name = gc_name (scm_call_1 (name_of, n->ref));
    }
  c->ty = TY_UNKNOWN;
  c->vt = NULL;
  c->is_signed = false;
  c->btf_id = 0;
  c->stack = SCM_PACK (0);
  memset (c->addr6, 0, sizeof c->addr6);
  if (n->op != OP_FIELD)
    c->hdr = H_NONE;
  if (n->op != OP_FIELD && n->op != OP_STRUCT_REF)
    c->field = -1;
  if (n->op != OP_LOCAL && n->op != OP_SET && n->op != OP_DO_TIMES)
    c->slot = -1;
  if (n->op != OP_INT)
    c->uneg = false;
  if (n->op != OP_INT && n->op != OP_BOOL)
    c->ival = 0;
  return c;
}

/* The first node of tree G (as written) that differs from the same
   place of D, or #f.  */
static SCM
first_difference (SCM g, SCM d, SCM *dn)
{
  if (scm_is_true (scm_equal_p (g, d)))
    return SCM_BOOL_F;
  *dn = d;
  if (scm_ilength (g) != scm_ilength (d) || scm_ilength (g) < 0)
    return g;
  for (SCM a = g, b = d; scm_is_pair (a); a = SCM_CDR (a), b = SCM_CDR (b))
    if (scm_is_false (scm_equal_p (SCM_CAR (a), SCM_CAR (b))))
      {
        SCM x = SCM_CAR (a), y = SCM_CAR (b);
        if (scm_is_pair (x) && scm_is_pair (y) && scm_is_symbol (SCM_CAR (x))
            && !scm_is_eq (SCM_CAR (x), sym ("@")))
          return first_difference (x, y, dn);
        return g;
      }
  return g;
}

/* A tree given to bounds or emit skips the checks of the types pass:
   it must be the tree the types pass (and bounds, for emit) makes of
   it, which is found by running them again on an untyped copy.  */
static void
check_typed (struct rd *R, SCM tree)
{
  struct lower *L = R->L;
  struct lower S = *L;
  int n = R->body_slots;
  S.body = untyped (L->body);
  S.nlocals = S.local_cap = n;
  S.local_names = scm_gc_malloc ((n + 1) * sizeof (SCM), "locals");
  memcpy (S.local_names, L->local_names, n * sizeof (SCM));
  S.local_ty = scm_gc_malloc_pointerless ((n + 1) * sizeof (enum ty), "l");
  S.local_vt = scm_gc_malloc ((n + 1) * sizeof (void *), "l");
  S.local_hdr = scm_gc_malloc_pointerless ((n + 1) * sizeof (enum hdr), "l");
  S.local_signed = scm_gc_malloc_pointerless (n + 1, "l");
  S.local_btf = scm_gc_malloc_pointerless ((n + 1) * sizeof (int), "l");
  memset (S.local_ty, 0, (n + 1) * sizeof (enum ty));
  memset (S.local_hdr, 0, (n + 1) * sizeof (enum hdr));
  memset (S.local_signed, 0, n + 1);
  memset (S.local_btf, 0, (n + 1) * sizeof (int));
  S.insts = NULL;
  S.ninsts = 0;
  S.macro_depth = S.depth = 0;
  S.stack_locals = S.core_members = SCM_EOL;
  S.uses_vmlinux = S.uses_probe = false;
  S.packet_layers = 0;
  S.emitted = S.helper_maps = SCM_EOL;
  gebpf_types (&S);
  if (R->from == FROM_EMIT)
    gebpf_bounds (&S);
  SCM dn = SCM_BOOL_F;
  SCM g = first_difference (gebpf_tree_write (L, L->body),
                            gebpf_tree_write (&S, S.body), &dn);
  if (scm_is_true (g))
    bad (R, g, "not what the %s makes of it (%s)",
         R->from == FROM_EMIT ? "types and bounds passes" : "types pass",
         gebpf_repr_n (dn, 600));
  (void) tree;
}

void
gebpf_tree_read (struct lower *L, SCM tree, int from)
{
  struct rd R = { L, from, -1, SCM_EOL, SCM_EOL, NULL, SCM_EOL, 0 };
  long pairs = 0;
  check_input (&R, tree, 0, &pairs);
  struct node *root = read_node (&R, tree, 0, EXPR);
  if (root->op != OP_BEGIN || root->nkid < 1)
    bad (&R, tree, "the root is (begin FORM ... (@ ...))");
  R.body_slots = R.max_slot + 1;
  L->body = root;
  read_state (&R, tree, R.state);
  for (int i = 0; i < L->nlocals; i++)
    if (L->local_btf[i] > 0 && (!L->tgt.btf
                                || (unsigned) L->local_btf[i]
                                >= btf__type_cnt (L->tgt.btf)))
      bad (&R, tree, "a local's btf-id is not a type of the kernel's BTF");
  check_btf (&R, root);
  check_calls (&R, root);
  for (struct inline_inst *in = L->insts; in; in = in->next)
    {
      check_btf (&R, in->body);
      check_calls (&R, in->body);
    }
  if (from > FROM_TYPES)
    check_typed (&R, tree);
}
