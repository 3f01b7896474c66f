/* resolve.c --- pass 2: bind every identifier.

   Takes: the parsed AST.  Gives: the same AST where
   - every variable reference is OP_LOCAL (with a slot), OP_CTX, OP_MAPREF
     or an OP_INT (an integer bound in Scheme);
   - every OP_APPLY is a header accessor (OP_FIELD), a struct constructor
     or accessor (OP_MAKE_STRUCT, OP_STRUCT_REF), an inline call
     (OP_INLINE_CALL), or has been replaced by its bpf-macro expansion;
   - return actions are integers for the program kind;
   - (call HELPER ...) names a whitelisted helper.
   Free identifiers resolve, in order, to: locals; a Scheme binding
   visible where the bpf-fn was written that holds a map, an integer, a
   bpf-inline or a bpf-macro; a declared map of that name.  */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lower.h"
#include "../map.h"

struct scope
{
  SCM name;
  int slot;
  struct scope *up;
};

/* Below LOWER_MAX_DEPTH: each expansion nests at least one level, and a
   macro that expands into itself is reported as that.  */
#define MACRO_DEPTH (LOWER_MAX_DEPTH / 2)

static void resolve (struct lower *L, struct node *n, struct scope *s,
                     int depth);

static int
new_slot (struct lower *L, SCM name)
{
  if (L->nlocals == L->local_cap)
    {
      int cap = L->local_cap ? L->local_cap * 2 : 16;
      SCM *names = scm_gc_malloc (cap * sizeof (SCM), "locals");
      enum ty *tys = scm_gc_malloc_pointerless (cap * sizeof (enum ty), "lt");
      const struct gebpf_type **vts = scm_gc_malloc (cap * sizeof (void *), "lv");
      enum hdr *hdrs = scm_gc_malloc_pointerless (cap * sizeof (enum hdr), "lh");
      bool *sgn = scm_gc_malloc_pointerless (cap * sizeof (bool), "ls");
      int *btf = scm_gc_malloc_pointerless (cap * sizeof (int), "lb");
      memset (sgn, 0, cap * sizeof (bool));
      memset (btf, 0, cap * sizeof (int));
      memset (tys, 0, cap * sizeof (enum ty));
      memset (vts, 0, cap * sizeof (void *));
      memset (hdrs, 0, cap * sizeof (enum hdr));
      if (L->nlocals)
        {
          memcpy (names, L->local_names, L->nlocals * sizeof (SCM));
          memcpy (tys, L->local_ty, L->nlocals * sizeof (enum ty));
          memcpy (vts, L->local_vt, L->nlocals * sizeof (void *));
          memcpy (hdrs, L->local_hdr, L->nlocals * sizeof (enum hdr));
          memcpy (sgn, L->local_signed, L->nlocals * sizeof (bool));
          memcpy (btf, L->local_btf, L->nlocals * sizeof (int));
        }
      L->local_btf = btf;
      L->local_signed = sgn;
      L->local_names = names;
      L->local_ty = tys;
      L->local_vt = vts;
      L->local_hdr = hdrs;
      L->local_cap = cap;
    }
  L->local_names[L->nlocals] = name;
  return L->nlocals++;
}

static struct scope *
push (struct lower *L, struct scope *up, const char *name, int *slot)
{
  struct scope *s = scm_gc_malloc (sizeof *s, "scope");
  s->name = scm_from_utf8_symbol (name);
  s->slot = new_slot (L, s->name);
  s->up = up;
  *slot = s->slot;
  return s;
}

static int
lookup_local (struct scope *s, const char *name)
{
  SCM sym = scm_from_utf8_symbol (name);
  for (; s; s = s->up)
    if (scm_is_eq (s->name, sym))
      return s->slot;
  return -1;
}

/* Scheme-side predicates and accessors of (ebpf fn), looked up once.  */
static SCM
fn_proc (const char *name)
{
  return scm_variable_ref (scm_c_public_lookup ("ebpf fn", name));
}

static bool
is_inline (SCM v)
{
  static SCM p;
  if (!p)
    p = scm_permanent_object (fn_proc ("bpf-inline?"));
  return scm_is_true (scm_call_1 (p, v));
}

static bool
is_macro (SCM v)
{
  static SCM p;
  if (!p)
    p = scm_permanent_object (fn_proc ("bpf-macro?"));
  return scm_is_true (scm_call_1 (p, v));
}

/* The value of NAME in the bpf-fn's module, or SCM_UNDEFINED.  */
static SCM
scheme_value (struct lower *L, const char *name)
{
  if (!SCM_MODULEP (L->module))
    return SCM_UNDEFINED;
  SCM var = scm_module_variable (L->module, scm_from_utf8_symbol (name));
  if (scm_is_false (var) || !scm_is_true (scm_variable_bound_p (var)))
    return SCM_UNDEFINED;
  return scm_variable_ref (var);
}

static void
note_map (struct lower *L, SCM m)
{
  if (scm_is_false (scm_memq (m, L->maps)))
    L->maps = scm_cons (m, L->maps);
}

/* (kstack) and (ustack) record into the stack-trace map stacks.c
   declares for them: its reference becomes the node's only kid.  */
static void
resolve_stack (struct lower *L, struct node *n)
{
  if (scm_is_false (L->ctx_name))
    gebpf_lower_error (L, n, "call it in the bpf-fn body and pass the "
                       "value to the inline", "(%s) needs the program's "
                       "context, which an inline does not see",
                       n->op == OP_KSTACK ? "kstack" : "ustack");
  SCM m = gebpf_stacks_map ();
  note_map (L, m);
  struct node *ref = scm_gc_malloc (sizeof *ref, "node");
  *ref = *n;
  ref->op = OP_MAPREF;
  ref->ref = m;
  ref->kid = NULL;
  ref->nkid = 0;
  n->kid = scm_gc_malloc (sizeof *n->kid, "kids");
  n->kid[0] = ref;
  n->nkid = 1;
}

static void
make_int (struct node *n, SCM v)
{
  n->op = OP_INT;
  n->uneg = scm_is_signed_integer (v, INT64_MIN, -1);
  n->ival = n->uneg ? scm_to_int64 (v) : (int64_t) scm_to_uint64 (v);
  n->nkid = 0;
}

static void
resolve_symbol (struct lower *L, struct node *n, struct scope *s)
{
  int slot = lookup_local (s, n->name);
  if (slot >= 0)
    {
      n->op = OP_LOCAL;
      n->slot = slot;
      return;
    }
  if (scm_is_symbol (L->ctx_name)
      && strcmp (gebpf_sym_str (L->ctx_name), n->name) == 0)
    {
      n->op = OP_CTX;
      return;
    }
  SCM v = scheme_value (L, n->name);
  if (!SCM_UNBNDP (v))
    {
      if (GEBPF_IS (v, gebpf_map_type))
        {
          n->op = OP_MAPREF;
          n->ref = v;
          note_map (L, v);
          return;
        }
      if (scm_is_exact_integer (v))
        {
          if (!scm_is_signed_integer (v, INT64_MIN, INT64_MAX)
              && !scm_is_unsigned_integer (v, 0, UINT64_MAX))
            gebpf_lower_error (L, n, "bind it to an integer that fits in 64 "
                               "bits", "%s is out of range (between -2^63 "
                               "and 2^64-1)", n->name);
          make_int (n, v);
          return;
        }
      if (is_inline (v) || is_macro (v))
        gebpf_lower_error (L, n, "call it: (NAME ARG ...)",
                           "%s is a bpf inline or macro, not a value",
                           n->name);
    }
  SCM m = gebpf_map_lookup (scm_from_utf8_string (n->name));
  if (scm_is_true (m))
    {
      n->op = OP_MAPREF;
      n->ref = m;
      note_map (L, m);
      return;
    }
  gebpf_lower_error (L, n, "bind it with let, declare a map of that name, "
                     "or define it in Scheme as an integer (spliced with ,)",
                     "unbound identifier %s", n->name);
}

/* make-S and S-field for defbpf-struct types.  */
static bool
resolve_struct (struct lower *L, struct node *n, struct scope *s, int depth)
{
  const char *name = n->name;
  if (strncmp (name, "make-", 5) == 0)
    {
      const struct gebpf_type *st = gebpf_type_lookup_struct (name + 5);
      if (!st)
        return false;
      struct node **vals = scm_gc_malloc ((st->nfields ? st->nfields : 1)
                                          * sizeof (struct node *), "fields");
      memset (vals, 0, st->nfields * sizeof (struct node *));
      if (n->nkid % 2)
        gebpf_lower_error (L, n, "write (make-S #:field VALUE ...)",
                           "%s takes keyword/value pairs", name);
      for (int i = 0; i < n->nkid; i += 2)
        {
          struct node *k = n->kid[i];
          if (k->op != OP_KEYWORD && !(k->op == OP_SYM && k->quoted))
            gebpf_lower_error (L, k, "write (make-S #:field VALUE ...)",
                               "expected a #:field keyword");
          int fi = -1;
          for (size_t j = 0; j < st->nfields; j++)
            if (strcmp (st->fields[j].name, k->name) == 0
                || strcmp (st->fields[j].cname, k->name) == 0)
              fi = j;
          if (fi < 0)
            {
              char fix[512] = "use the fields:";
              for (size_t j = 0; j < st->nfields; j++)
                {
                  strncat (fix, " #:", sizeof fix - strlen (fix) - 1);
                  strncat (fix, st->fields[j].name, sizeof fix - strlen (fix) - 1);
                }
              gebpf_lower_error (L, k, fix, "struct %s has no field %s",
                                 st->name, k->name);
            }
          resolve (L, n->kid[i + 1], s, depth + 1);
          vals[fi] = n->kid[i + 1];
        }
      n->op = OP_MAKE_STRUCT;
      n->st = st;
      n->kid = vals;
      n->nkid = st->nfields;
      return true;
    }
  /* S-field: try every split at '-'.  */
  for (const char *p = strchr (name, '-'); p; p = strchr (p + 1, '-'))
    {
      char *sn = scm_gc_strndup (name, p - name, "sname");
      const struct gebpf_type *st = gebpf_type_lookup_struct (sn);
      if (!st)
        continue;
      for (size_t j = 0; j < st->nfields; j++)
        if (strcmp (st->fields[j].name, p + 1) == 0)
          {
            if (n->nkid != 1)
              gebpf_lower_error (L, n, "write (S-field VALUE)",
                                 "%s takes one argument", name);
            resolve (L, n->kid[0], s, depth + 1);
            n->op = OP_STRUCT_REF;
            n->st = st;
            n->field = j;
            return true;
          }
    }
  return false;
}

static void
resolve_kids (struct lower *L, struct node *n, struct scope *s, int depth)
{
  for (int i = 0; i < n->nkid; i++)
    if (n->kid[i])
      resolve (L, n->kid[i], s, depth + 1);
}

static void
resolve_apply (struct lower *L, struct node *n, struct scope *s, int depth)
{
  if (lookup_local (s, n->name) >= 0)
    gebpf_lower_error (L, n, "locals hold values; only forms, inlines and "
                       "macros can be applied",
                       "cannot call local variable %s", n->name);
  const struct hfield *hf = gebpf_hfield_lookup (n->name);
  if (hf)
    {
      if (n->nkid != 1)
        gebpf_lower_error (L, n, "write (HEADER-FIELD HEADER)",
                           "%s takes one header argument", n->name);
      n->op = OP_FIELD;
      n->field = gebpf_hfield_index (hf);
      n->hdr = hf->hdr;
      resolve_kids (L, n, s, depth);
      return;
    }
  SCM v = scheme_value (L, n->name);
  if (!SCM_UNBNDP (v) && is_macro (v))
    {
      if (++L->macro_depth > MACRO_DEPTH)
        gebpf_lower_error (L, n, "make the macro's expansion terminate",
                           "macro expansion deeper than %d: circular "
                           "bpf-macro %s?", MACRO_DEPTH, n->name);
      SCM args = SCM_EOL;
      for (int i = n->nkid; i-- > 0;)
        args = scm_cons (n->kid[i]->datum, args);
      SCM expander = scm_call_1 (fn_proc ("bpf-macro-procedure"), v);
      /* The expander is user Scheme: its errors become lowering errors
         that name the call.  */
      SCM result = scm_call_2 (scm_variable_ref
                               (scm_c_private_lookup ("ebpf fn",
                                                      "%bpf-macro-expand")),
                               expander, args);
      if (scm_is_false (SCM_CAR (result)))
        gebpf_lower_error (L, n, "fix the bpf-macro's expander (it is "
                           "ordinary Scheme, called with the argument forms)",
                           "bpf-macro %s failed: %s", n->name,
                           gebpf_str (SCM_CDR (result)));
      SCM expansion = SCM_CDR (result);
      struct node *e = gebpf_parse (L, scm_list_1 (expansion), n->file,
                                    n->line, n->col);
      struct node *x = e->kid[0];
      resolve (L, x, s, depth + 1);
      L->macro_depth--;
      struct node keep = *n;
      *n = *x;
      /* Keep the call's location: the expansion has none of its own.  */
      if (!n->line)
        {
          n->file = keep.file;
          n->line = keep.line;
          n->col = keep.col;
        }
      return;
    }
  if (!SCM_UNBNDP (v) && is_inline (v))
    {
      n->op = OP_INLINE_CALL;
      n->ref = v;
      resolve_kids (L, n, s, depth);
      return;
    }
  if (resolve_struct (L, n, s, depth))
    return;
  gebpf_lower_error (L, n, "check the spelling, or define it with "
                     "define-bpf-inline or define-bpf-macro",
                     "unknown form %s", n->name);
}

static void
resolve_return (struct lower *L, struct node *n, struct scope *s, int depth)
{
  if (n->nkid == 0)
    return;
  struct node *a = n->kid[0];
  if ((a->op == OP_SYM && (a->quoted || lookup_local (s, a->name) < 0))
      || a->op == OP_KEYWORD)
    {
      long v;
      if (gebpf_action_value (L->kind, a->name, &v))
        {
          a->op = OP_INT;
          a->uneg = v < 0;
          a->ival = v;
          return;
        }
      if (a->quoted || a->op == OP_KEYWORD
          || SCM_UNBNDP (scheme_value (L, a->name)))
        {
          const char *kn = gebpf_sym_name (gebpf_prog_kinds, L->kind);
          char fix[256];
          snprintf (fix, sizeof fix, "%s programs return %s, or an integer",
                    kn,
                    L->kind == PK_XDP ? "xdp-pass xdp-drop xdp-tx xdp-redirect "
                    "xdp-aborted"
                    : L->kind == PK_TC ? "tc-act-ok tc-act-shot tc-act-pipe "
                    "tc-act-redirect"
                    : gebpf_kind_is_packet (L->kind)
                    || L->kind == PK_CGROUP_SOCK_ADDR ? "allow deny"
                    : "ok err");
          gebpf_lower_error (L, a, fix, "%s is not an action of %s programs",
                             a->name, kn);
        }
    }
  resolve (L, a, s, depth + 1);
}

static void
resolve (struct lower *L, struct node *n, struct scope *s, int depth)
{
  if (depth > LOWER_MAX_DEPTH)
    gebpf_lower_error (L, n, "split the body into define-bpf-inline functions",
                       "forms nested deeper than %d levels", LOWER_MAX_DEPTH);
  switch (n->op)
    {
    case OP_SYM:
    case OP_KEYWORD:
      {
        /* Actions of the kind (:xdp-drop, 'tc-act-shot) are integer
           constants anywhere, so a verdict can be computed and counted.  */
        long v;
        if ((n->quoted || n->op == OP_KEYWORD)
            && gebpf_action_value (L->kind, n->name, &v))
          {
            n->op = OP_INT;
            n->uneg = v < 0;
            n->ival = v;
            return;
          }
      }
      if (n->op == OP_KEYWORD)
        gebpf_lower_error (L, n, "keywords other than :tcp :udp :icmp :icmpv6 "
                           ":ipv4 :ipv6 :arp, the :fib- codes and the kind's "
                           "actions appear only in make-S and stack-id",
                           "unexpected keyword %s", n->name);
      if (n->quoted)
        gebpf_lower_error (L, n, "quoted names appear only in arg, core-read "
                           "and return", "unexpected quoted name '%s", n->name);
      resolve_symbol (L, n, s);
      return;
    case OP_LET:
    case OP_LETSTAR:
      {
        struct node *bs = n->kid[0];
        struct scope *inner = s;
        for (int i = 0; i < bs->nkid; i++)
          {
            struct node *b = bs->kid[i];
            resolve (L, b->kid[0], n->op == OP_LETSTAR ? inner : s, depth + 1);
            inner = push (L, inner, b->name, &b->slot);
          }
        resolve (L, n->kid[1], inner, depth + 1);
        return;
      }
    case OP_DO_TIMES:
      {
        resolve (L, n->kid[0], s, depth + 1);
        struct scope *inner = push (L, s, n->name, &n->slot);
        resolve (L, n->kid[1], inner, depth + 1);
        return;
      }
    case OP_SET:
      {
        int slot = lookup_local (s, n->name);
        if (slot < 0)
          gebpf_lower_error (L, n, "set! changes locals bound by let; maps "
                             "change with map-set!",
                             "set! of %s, which is not a local", n->name);
        n->slot = slot;
        resolve_kids (L, n, s, depth);
        return;
      }
    case OP_CALL:
      if (!gebpf_helper_lookup (n->name))
        {
          char fix[512];
          snprintf (fix, sizeof fix, "use one of: %s", gebpf_helper_names ());
          gebpf_lower_error (L, n, fix, "unknown helper %s", n->name);
        }
      if (n->nkid != gebpf_helper_lookup (n->name)->nargs)
        gebpf_lower_error (L, n, "check the helper's arguments",
                           "helper %s takes %d arguments", n->name,
                           gebpf_helper_lookup (n->name)->nargs);
      resolve_kids (L, n, s, depth);
      return;
    case OP_APPLY:
      resolve_apply (L, n, s, depth);
      return;
    case OP_RETURN:
      resolve_return (L, n, s, depth);
      return;
    case OP_CONST:
      {
        SCM sym = scm_from_utf8_symbol (n->name);
        if (scm_is_false (scm_memq (sym, L->consts)))
          L->consts = scm_cons (sym, L->consts);
        char *c = gebpf_c_ident (sym, "bpf-fn", "const name");
        free (c);
        return;
      }
    case OP_ARG:
    case OP_CORE_READ:
    case OP_CORE_CAST:
      resolve (L, n->kid[0], s, depth + 1);
      if (n->op == OP_ARG && n->kid[1]->op != OP_SYM)
        resolve (L, n->kid[1], s, depth + 1);
      return;
    case OP_STACK_ID:
      resolve (L, n->kid[0], s, depth + 1);
      resolve (L, n->kid[1], s, depth + 1);
      if (n->nkid == 4)
        {
          if (n->kid[2]->op != OP_KEYWORD || strcmp (n->kid[2]->name, "user?"))
            gebpf_lower_error (L, n->kid[2], "write #:user? #t",
                               "stack-id takes only #:user?");
          resolve (L, n->kid[3], s, depth + 1);
        }
      else if (n->nkid == 3)
        gebpf_lower_error (L, n, "write (stack-id CTX MAP #:user? #t)",
                           "#:user? needs a value");
      return;
    case OP_PERF_EMIT:
      resolve (L, n->kid[0], s, depth + 1);
      resolve (L, n->kid[1], s, depth + 1);
      if (n->nkid == 4)
        {
          if (n->kid[2]->op != OP_KEYWORD
              || strcmp (n->kid[2]->name, "packet-bytes"))
            gebpf_lower_error (L, n->kid[2], "write #:packet-bytes N",
                               "perf-emit! takes only #:packet-bytes");
          resolve (L, n->kid[3], s, depth + 1);
        }
      else if (n->nkid == 3)
        gebpf_lower_error (L, n, "write (perf-emit! MAP VALUE "
                           "#:packet-bytes N)", "#:packet-bytes needs a value");
      return;
    case OP_KSTACK:
    case OP_USTACK:
      resolve_stack (L, n);
      return;
    case OP_READ_USER:
    case OP_READ_KERNEL:
      /* The parse pass ran when the bpf-fn was made: a struct named by
         the type is the one defined now.  */
      if (n->st && n->st->kind == GT_STRUCT && n->st->name)
        {
          const struct gebpf_type *now
            = gebpf_type_lookup_struct (n->st->name);
          if (now)
            n->st = now;
        }
      resolve_kids (L, n, s, depth);
      return;
    default:
      resolve_kids (L, n, s, depth);
      return;
    }
}

void
gebpf_resolve (struct lower *L)
{
  resolve (L, L->body, NULL, 0);
}

struct node *
gebpf_resolve_inline (struct lower *L, SCM obj, struct node *call,
                      int **slots, int *nparams)
{
  /* (ebpf fn) keeps an inline as NAME PARAMS BODY MODULE.  */
  SCM params = scm_call_1 (fn_proc ("bpf-inline-params"), obj);
  SCM body = scm_call_1 (fn_proc ("bpf-inline-body"), obj);
  SCM module = scm_call_1 (fn_proc ("bpf-inline-module"), obj);
  long np = scm_ilength (params);
  if (np != call->nkid)
    gebpf_lower_error (L, call, "pass one argument per parameter",
                       "inline %s takes %ld arguments, not %d", call->name,
                       np, call->nkid);
  struct scope *s = NULL;
  *slots = scm_gc_malloc_pointerless ((np ? np : 1) * sizeof (int), "slots");
  long i = 0;
  for (SCM l = params; scm_is_pair (l); l = SCM_CDR (l), i++)
    s = push (L, s, gebpf_sym_str (SCM_CAR (l)), &(*slots)[i]);
  *nparams = np;
  SCM saved_module = L->module, saved_ctx = L->ctx_name;
  L->module = module;
  L->ctx_name = SCM_BOOL_F;     /* inlines see no context */
  struct node *b = gebpf_parse (L, body, call->file, call->line, call->col);
  resolve (L, b, s, 1);
  L->module = saved_module;
  L->ctx_name = saved_ctx;
  return b;
}
