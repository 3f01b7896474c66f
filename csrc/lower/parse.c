/* parse.c --- pass 1: located s-expressions to the AST.

   Takes: the body of a bpf-fn as the (ebpf fn) macro recorded it -- each
   list form is #(MARKER FILE LINE COLUMN ITEMS), values spliced with ,EXPR
   are plain data -- and gives: an AST of struct node whose forms are
   recognised from the form table (forms.c) and whose shapes are checked
   (arity, let bindings, cond/case clauses, quoted field names).  Heads
   that are not forms become OP_APPLY for the resolve pass (inlines,
   macros, struct and header accessors).  Nothing here needs the kernel
   or the program kind, so the shape is checked when the bpf-fn is made.  */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lower.h"

SCM gebpf_loc_marker;

static bool
located_p (SCM x)
{
  return scm_is_vector (x) && scm_c_vector_length (x) == 5
    && scm_is_eq (scm_c_vector_ref (x, 0), gebpf_loc_marker);
}

/* The plain datum of a located tree, for messages and bpf-macro
   arguments.  Every node of the AST keeps the datum of its form, so each
   result is remembered in MEMO (keyed by the located vector or pair):
   stripping the whole body costs one walk, not one per level.  The
   recursion is bounded because check_tree ran first.  */
static SCM
strip (SCM memo, SCM x)
{
  SCM key = x;
  if (!scm_is_pair (x) && !located_p (x))
    return x;
  SCM known = scm_hashq_ref (memo, key, SCM_BOOL_F);
  if (scm_is_true (known))
    return known;
  if (located_p (x))
    x = scm_c_vector_ref (x, 4);
  SCM out = x;
  if (scm_is_pair (x) && scm_ilength (x) >= 0)
    {
      out = SCM_EOL;
      for (SCM l = x; scm_is_pair (l); l = SCM_CDR (l))
        out = scm_cons (strip (memo, SCM_CAR (l)), out);
      out = scm_reverse_x (out, SCM_EOL);
    }
  scm_hashq_set_x (memo, key, out);
  return out;
}

static SCM
strip_memo (struct lower *L, SCM x)
{
  /* struct lower is zeroed by memset, which is not #f.  */
  if (SCM_UNPACK (L->strip_memo) == 0 || scm_is_false (L->strip_memo))
    L->strip_memo = scm_c_make_hash_table (255);
  return strip (L->strip_memo, x);
}

/* Walk a located tree once before anything recurses through it, with
   an explicit stack: a list that is circular through its cdr, lists
   nested deeper than TREE_DEPTH (a form nests at most three lists per
   level, as in let; a list that contains itself through a car is
   infinitely deep) or more than TREE_NODES items is a lowering error.
   After this, strip, parse and the later passes recurse a bounded
   number of levels.  */
#define TREE_DEPTH (3 * LOWER_MAX_DEPTH + 8)
#define TREE_NODES 200000

static bool
cdr_circular_p (SCM l)
{
  SCM slow = l;
  while (scm_is_pair (l) && scm_is_pair (SCM_CDR (l)))
    {
      l = SCM_CDDR (l);
      slow = SCM_CDR (slow);
      if (scm_is_eq (l, slow))
        return true;
    }
  return false;
}

struct frame
{
  SCM list, at;                 /* the list being walked and where */
  SCM form;                     /* its located vector or the pair */
  struct node *where;           /* nearest location */
};

static struct node *
tree_where (struct lower *L, struct frame *stack, int top, SCM form)
{
  struct node *n = gebpf_node (L, OP_BEGIN, top >= 0 ? stack[top].where : NULL);
  /* Kept located, so the error carries its bounded text (fn.c).  */
  n->datum = located_p (form) ? form
    : scm_vector (scm_list_5 (gebpf_loc_marker, SCM_BOOL_F, SCM_INUM0,
                              SCM_INUM0, form));
  return n;
}

static void
check_tree (struct lower *L, SCM x, struct node *where)
{
  struct frame *stack = scm_gc_malloc ((TREE_DEPTH + 1) * sizeof *stack,
                                       "tree");
  int top = -1;
  long count = 0;
  for (;;)
    {
      /* X is the next item to look at.  */
      if (++count > TREE_NODES)
        gebpf_lower_error (L, tree_where (L, stack, top, SCM_BOOL_F),
                           "split the body into several programs or "
                           "define-bpf-inline functions",
                           "the body has more than %d forms and atoms",
                           TREE_NODES);
      SCM list = located_p (x) ? scm_c_vector_ref (x, 4) : x;
      if (scm_is_pair (list))
        {
          struct node *w = top >= 0 ? stack[top].where : where;
          if (located_p (x))
            {
              w = gebpf_node (L, OP_BEGIN, NULL);
              w->file = scm_c_vector_ref (x, 1);
              w->line = scm_is_integer (scm_c_vector_ref (x, 2))
                ? scm_to_int (scm_c_vector_ref (x, 2)) : 0;
              w->col = scm_is_integer (scm_c_vector_ref (x, 3))
                ? scm_to_int (scm_c_vector_ref (x, 3)) : 0;
            }
          if (cdr_circular_p (list))
            {
              stack[top + 1].where = w;
              gebpf_lower_error (L, tree_where (L, stack, top + 1, x),
                                 "splice a proper list",
                                 "circular list (its cdr leads back to it)");
            }
          if (top + 1 >= TREE_DEPTH)
            {
              for (int i = 0; i <= top; i++)
                if (scm_is_eq (stack[i].list, list))
                  gebpf_lower_error (L, tree_where (L, stack, top, x),
                                     "splice data that does not contain "
                                     "itself", "circular form (it contains "
                                     "itself)");
              gebpf_lower_error (L, tree_where (L, stack, top, x),
                                 "split the body into define-bpf-inline "
                                 "functions", "forms nested deeper than %d "
                                 "levels", LOWER_MAX_DEPTH);
            }
          top++;
          stack[top] = (struct frame) { list, list, x, w };
        }
      /* Next item: the following one in the innermost unfinished list.  */
      for (;;)
        {
          if (top < 0)
            return;
          SCM at = stack[top].at;
          if (scm_is_pair (at))
            {
              x = SCM_CAR (at);
              stack[top].at = SCM_CDR (at);
              break;
            }
          top--;
        }
    }
}

static char *
sym_name (SCM s)
{
  char *c = scm_to_utf8_string (scm_symbol_to_string (s));
  char *g = scm_gc_strdup (c, "sym");
  free (c);
  return g;
}

static struct node *parse (struct lower *L, SCM x, struct node *where,
                           int depth);

static SCM_NORETURN void
shape_error (struct lower *L, struct node *n, const struct form *f,
             const char *what)
{
  char fix[256];
  snprintf (fix, sizeof fix, "write %s", f ? f->usage : "a supported form");
  gebpf_lower_error (L, n, fix, "%s", what);
}

/* A list of items (each located or plain) to a vector of nodes.  */
static void
parse_items (struct lower *L, SCM items, struct node *n, int depth)
{
  long len = scm_ilength (items);
  if (len < 0)
    gebpf_lower_error (L, n, "write a proper list",
                       "circular or improper list");
  n->nkid = len;
  n->kid = scm_gc_malloc ((len ? len : 1) * sizeof (struct node *), "kids");
  long i = 0;
  for (SCM l = items; scm_is_pair (l); l = SCM_CDR (l), i++)
    n->kid[i] = parse (L, SCM_CAR (l), n, depth + 1);
}

static SCM
items_of (SCM x)
{
  return located_p (x) ? scm_c_vector_ref (x, 4) : x;
}

static bool
is_sym (SCM x, const char *name)
{
  x = items_of (x);
  return scm_is_symbol (x) && strcmp (gebpf_sym_str (x), name) == 0;
}

/* (quote (SYM SYM ...)) -> "SYM|SYM|..." (GC memory), else NULL: the
   names a core-read field may have on different kernels.  */
static char *
quoted_alternatives (SCM x)
{
  x = items_of (x);
  if (!(scm_ilength (x) == 2 && is_sym (SCM_CAR (x), "quote")))
    return NULL;
  SCM l = items_of (SCM_CADR (x));
  if (scm_ilength (l) < 1)
    return NULL;
  size_t len = 0;
  for (SCM i = l; scm_is_pair (i); i = SCM_CDR (i))
    {
      SCM s = items_of (SCM_CAR (i));
      if (!scm_is_symbol (s))
        return NULL;
      len += strlen (sym_name (s)) + 1;
    }
  char *out = scm_gc_malloc_pointerless (len + 1, "core fields");
  *out = 0;
  for (SCM i = l; scm_is_pair (i); i = SCM_CDR (i))
    {
      if (*out)
        strcat (out, "|");
      strcat (out, sym_name (items_of (SCM_CAR (i))));
    }
  return out;
}

/* (quote SYM) -> SYM, else #f.  */
static SCM
quoted_symbol (SCM x)
{
  x = items_of (x);
  if (scm_ilength (x) == 2 && is_sym (SCM_CAR (x), "quote")
      && scm_is_symbol (items_of (SCM_CADR (x))))
    return items_of (SCM_CADR (x));
  return SCM_BOOL_F;
}

static SCM
type_parse_body (void *spec)
{
  return gebpf_type_parse (SCM_PACK ((scm_t_bits) spec), "bpf-fn",
                           "read type")->object;
}

static SCM
type_parse_handler (void *data, SCM key, SCM args)
{
  (void) data; (void) key; (void) args;
  return SCM_BOOL_F;
}

/* The TYPE of (read-user PTR 'TYPE): a type spelling, quoted or not ('u32,
   '(string 16), 'timespec for a defbpf-struct) or a <bpf-type> spliced
   with ,.  */
static const struct gebpf_type *
parse_read_type (struct lower *L, struct node *n, const struct form *f,
                 SCM x)
{
  SCM spec = items_of (x);
  /* The type is never an expression: quoted or not, it is a spelling.  */
  if (scm_ilength (spec) == 2 && is_sym (SCM_CAR (spec), "quote"))
    spec = strip_memo (L, SCM_CADR (spec));
  else
    spec = strip_memo (L, x);
  if (!(scm_is_symbol (spec) || scm_is_pair (spec)
        || GEBPF_IS (spec, gebpf_type_type)))
    shape_error (L, n, f, "the type is a type spelling: 'u64, "
                 "'(string 16), 'STRUCT-NAME");
  SCM obj = scm_c_catch (SCM_BOOL_T, type_parse_body,
                         (void *) SCM_UNPACK (spec), type_parse_handler,
                         NULL, NULL, NULL);
  if (scm_is_false (obj))
    gebpf_lower_error (L, n, "give a guile-ebpf type: u8 ... i64, be16 ..., "
                       "(bytes N), (string N), or a defbpf-struct name",
                       "%s: unknown type %s", f->name, gebpf_repr (spec));
  return gebpf_type_from_scm (obj);
}

static void
check_bindings (struct lower *L, struct node *n, const struct form *f,
                SCM bindings)
{
  bindings = items_of (bindings);
  if (scm_ilength (bindings) < 0)
    shape_error (L, n, f, "malformed bindings");
  for (SCM l = bindings; scm_is_pair (l); l = SCM_CDR (l))
    {
      SCM b = items_of (SCM_CAR (l));
      if (scm_ilength (b) != 2 || !scm_is_symbol (items_of (SCM_CAR (b))))
        shape_error (L, n, f, "each binding must be (VAR EXPR)");
    }
}

static struct node *
parse_form (struct lower *L, SCM items, struct node *n, int depth)
{
  long len = scm_ilength (items);
  if (len < 0)
    gebpf_lower_error (L, n, "write a proper list",
                       "circular or improper list");
  if (len == 0)
    gebpf_lower_error (L, n, "remove the empty form ()", "empty form ()");
  SCM head = items_of (SCM_CAR (items));
  if (!scm_is_symbol (head))
    gebpf_lower_error (L, n, "the head of a form must be a form name, an "
                       "inline, a macro or an accessor",
                       "cannot apply %s", gebpf_repr (head));
  const char *hname = gebpf_sym_str (head);
  const struct form *f = gebpf_form_lookup (hname);
  SCM args = SCM_CDR (items);
  int nargs = len - 1;
  if (strcmp (hname, "quote") == 0)
    {
      if (nargs != 1 || !scm_is_symbol (items_of (SCM_CAR (args))))
        gebpf_lower_error (L, n, "quote only names: 'FIELD, 'xdp-drop",
                           "unsupported quoted datum");
      n->op = OP_SYM;
      n->quoted = true;
      n->name = sym_name (items_of (SCM_CAR (args)));
      return n;
    }
  if (!f)
    {
      n->op = OP_APPLY;
      n->name = sym_name (head);
      parse_items (L, args, n, depth);
      return n;
    }
  n->op = f->op;
  n->name = (char *) f->name;
  if (nargs < f->min || (f->max >= 0 && nargs > f->max))
    {
      char what[128];
      if (f->max < 0)
        snprintf (what, sizeof what, "%s takes %d or more arguments, not %d",
                  f->name, f->min, nargs);
      else if (f->max > f->min)
        snprintf (what, sizeof what, "%s takes %d to %d arguments, not %d",
                  f->name, f->min, f->max, nargs);
      else
        snprintf (what, sizeof what, "%s takes %d argument%s, not %d",
                  f->name, f->min, f->min == 1 ? "" : "s", nargs);
      shape_error (L, n, f, what);
    }

  switch (f->op)
    {
    case OP_LET:
    case OP_LETSTAR:
      {
        check_bindings (L, n, f, SCM_CAR (args));
        /* kid[0] = OP_BEGIN of init nodes with names; kids after: body */
        SCM bindings = items_of (SCM_CAR (args));
        long nb = scm_ilength (bindings);
        struct node *bs = gebpf_node (L, OP_BEGIN, n);
        bs->nkid = nb;
        bs->kid = scm_gc_malloc ((nb ? nb : 1) * sizeof (struct node *), "b");
        long i = 0;
        for (SCM l = bindings; scm_is_pair (l); l = SCM_CDR (l), i++)
          {
            SCM b = items_of (SCM_CAR (l));
            struct node *init = parse (L, SCM_CADR (b), n, depth + 1);
            struct node *v = gebpf_node (L, OP_SET, init);
            v->name = sym_name (items_of (SCM_CAR (b)));
            v->nkid = 1;
            v->kid = scm_gc_malloc (sizeof (struct node *), "k");
            v->kid[0] = init;
            bs->kid[i] = v;
          }
        struct node *body = gebpf_node (L, OP_BEGIN, n);
        parse_items (L, SCM_CDR (args), body, depth);
        n->nkid = 2;
        n->kid = scm_gc_malloc (2 * sizeof (struct node *), "k");
        n->kid[0] = bs;
        n->kid[1] = body;
        return n;
      }
    case OP_SET:
      if (!scm_is_symbol (items_of (SCM_CAR (args))))
        shape_error (L, n, f, "set! needs a variable name");
      n->name = sym_name (items_of (SCM_CAR (args)));
      parse_items (L, SCM_CDR (args), n, depth);
      return n;
    case OP_COND:
      {
        parse_items (L, SCM_EOL, n, depth);
        n->nkid = nargs;
        n->kid = scm_gc_malloc (nargs * sizeof (struct node *), "k");
        int i = 0;
        for (SCM l = args; scm_is_pair (l); l = SCM_CDR (l), i++)
          {
            SCM c = items_of (SCM_CAR (l));
            if (scm_ilength (c) < 1)
              shape_error (L, n, f, "each cond clause is (TEST BODY ...)");
            struct node *cl = gebpf_node (L, OP_BEGIN, n);
            if (is_sym (SCM_CAR (c), "else"))
              {
                if (scm_is_pair (SCM_CDR (l)))
                  shape_error (L, n, f, "else must be the last cond clause");
                cl->name = "else";
                parse_items (L, SCM_CDR (c), cl, depth + 1);
              }
            else
              {
                /* (cond (TEST)) would yield TEST's value: not lowered.  */
                if (scm_ilength (c) < 2)
                  shape_error (L, n, f, "a cond clause needs a body after "
                               "its test");
                parse_items (L, c, cl, depth + 1);
              }
            if (cl->nkid == 0)
              shape_error (L, n, f, "empty else clause");
            n->kid[i] = cl;
          }
        return n;
      }
    case OP_CASE:
      {
        n->nkid = nargs;
        n->kid = scm_gc_malloc (nargs * sizeof (struct node *), "k");
        n->kid[0] = parse (L, SCM_CAR (args), n, depth + 1);
        int i = 1;
        for (SCM l = SCM_CDR (args); scm_is_pair (l); l = SCM_CDR (l), i++)
          {
            SCM c = items_of (SCM_CAR (l));
            if (scm_ilength (c) < 2)
              shape_error (L, n, f, "each case clause is ((INT ...) BODY ...)");
            struct node *cl = gebpf_node (L, OP_BEGIN, n);
            SCM data = items_of (SCM_CAR (c));
            if (is_sym (SCM_CAR (c), "else"))
              {
                if (scm_is_pair (SCM_CDR (l)))
                  shape_error (L, n, f, "else must be the last case clause");
                cl->name = "else";
                cl->datum = SCM_EOL;
              }
            else
              {
                if (scm_ilength (data) < 1)
                  shape_error (L, n, f, "case data must be a list of integers");
                for (SCM d = data; scm_is_pair (d); d = SCM_CDR (d))
                  {
                    SCM v = items_of (SCM_CAR (d));
                    long kv;
                    if (scm_is_keyword (v) || scm_is_symbol (v))
                      {
                        SCM s = gebpf_enum_symbol (v);
                        if (!gebpf_keyword_const (gebpf_sym_str (s), &kv))
                          shape_error (L, n, f, "case data must be integers or "
                                       "keyword constants such as :tcp");
                      }
                    else if (!scm_is_signed_integer (v, INT64_MIN, INT64_MAX))
                      shape_error (L, n, f, "case data must be integers");
                  }
                cl->datum = strip_memo (L, data);
              }
            parse_items (L, SCM_CDR (c), cl, depth + 1);
            n->kid[i] = cl;
          }
        return n;
      }
    case OP_DO_TIMES:
      {
        SCM spec = items_of (SCM_CAR (args));
        if (scm_ilength (spec) != 2 || !scm_is_symbol (items_of (SCM_CAR (spec))))
          shape_error (L, n, f, "do-times needs (VAR COUNT)");
        struct node *count = parse (L, SCM_CADR (spec), n, depth + 1);
        struct node *body = gebpf_node (L, OP_BEGIN, n);
        parse_items (L, SCM_CDR (args), body, depth);
        n->name = sym_name (items_of (SCM_CAR (spec)));
        n->nkid = 2;
        n->kid = scm_gc_malloc (2 * sizeof (struct node *), "k");
        n->kid[0] = count;
        n->kid[1] = body;
        return n;
      }
    case OP_CALL:
      {
        SCM h = items_of (SCM_CAR (args));
        SCM q = quoted_symbol (SCM_CAR (args));
        if (scm_is_true (q))
          h = q;
        if (!scm_is_symbol (h))
          shape_error (L, n, f, "call needs a helper name");
        n->name = sym_name (h);
        parse_items (L, SCM_CDR (args), n, depth);
        return n;
      }
    case OP_USDT_ARG:
      parse_items (L, args, n, depth);
      if (!scm_is_unsigned_integer (items_of (SCM_CADR (args)), 0, 11))
        shape_error (L, n, f, "usdt-arg takes a position 0..11");
      return n;
    case OP_ARG:
      {
        parse_items (L, args, n, depth);
        SCM q = quoted_symbol (SCM_CADR (args));
        SCM a = items_of (SCM_CADR (args));
        if (scm_is_true (q))
          {
            n->kid[1]->op = OP_SYM;
            n->kid[1]->quoted = true;
            n->kid[1]->name = sym_name (q);
          }
        else if (!scm_is_unsigned_integer (a, 0, 11))
          shape_error (L, n, f, "arg takes a quoted field name or a position "
                       "0..11");
        return n;
      }
    case OP_CORE_READ:
      {
        /* The pointer is a form; the fields are names, not parsed as
           forms (a list of names is no form).  */
        n->nkid = nargs;
        n->kid = scm_gc_malloc (nargs * sizeof (struct node *), "kids");
        n->kid[0] = parse (L, SCM_CAR (args), n, depth + 1);
        int i = 1;
        for (SCM l = SCM_CDR (args); scm_is_pair (l); l = SCM_CDR (l), i++)
          {
            n->kid[i] = gebpf_node (L, OP_SYM, n);
            n->kid[i]->datum = strip_memo (L, SCM_CAR (l));
            if (located_p (SCM_CAR (l)))
              {
                n->kid[i]->file = scm_c_vector_ref (SCM_CAR (l), 1);
                n->kid[i]->line = scm_to_int (scm_c_vector_ref (SCM_CAR (l), 2));
                n->kid[i]->col = scm_to_int (scm_c_vector_ref (SCM_CAR (l), 3));
              }
            SCM q = quoted_symbol (SCM_CAR (l));
            /* '(nr_queued nr_running): a field renamed between kernels,
               resolved against this one's BTF by the types pass.  */
            char *alts = scm_is_false (q) ? quoted_alternatives (SCM_CAR (l))
              : NULL;
            if (scm_is_false (q) && !alts)
              shape_error (L, n, f, "core-read fields are quoted names, or "
                           "a quoted list of the names a field has on "
                           "different kernels: '(nr_queued nr_running)");
            n->kid[i]->op = OP_SYM;
            n->kid[i]->quoted = true;
            n->kid[i]->name = alts ? alts : sym_name (q);
          }
        return n;
      }
    case OP_CTX_FIELD:
    case OP_SET_FIELD:
      {
        /* The field name stays a string leaf: which header it belongs
           to is known only once the header is typed.  */
        parse_items (L, args, n, depth);
        SCM q = quoted_symbol (SCM_CADR (args));
        if (scm_is_false (q))
          shape_error (L, n, f, "the field is a quoted name, e.g. 'ttl");
        n->kid[1]->op = OP_STR;
        n->kid[1]->name = sym_name (q);
        return n;
      }
    case OP_PRINTK:
      if (!scm_is_string (items_of (SCM_CAR (args))))
        shape_error (L, n, f, "printk needs a format string first");
      parse_items (L, args, n, depth);
      return n;
    case OP_CONST:
      {
        SCM s = items_of (SCM_CAR (args));
        SCM q = quoted_symbol (SCM_CAR (args));
        if (scm_is_true (q))
          s = q;
        if (!scm_is_symbol (s))
          shape_error (L, n, f, "const needs a name");
        n->name = sym_name (s);
        return n;
      }
    case OP_CORE_CAST:
      {
        /* The pointer, and the struct's name as a quoted symbol.  */
        SCM q = quoted_symbol (SCM_CADR (args));
        if (scm_is_false (q))
          shape_error (L, n, f, "the struct is a quoted name, e.g. 'tcp_sock");
        parse_items (L, scm_list_1 (SCM_CAR (args)), n, depth);
        struct node **kid = scm_gc_malloc (2 * sizeof *kid, "kids");
        kid[0] = n->kid[0];
        kid[1] = gebpf_node (L, OP_SYM, n);
        kid[1]->quoted = true;
        kid[1]->name = sym_name (q);
        kid[1]->datum = strip_memo (L, SCM_CADR (args));
        n->kid = kid;
        n->nkid = 2;
        return n;
      }
    case OP_READ_USER:
    case OP_READ_KERNEL:
      /* One kid, the pointer; the type is not an expression.  */
      parse_items (L, scm_list_1 (SCM_CAR (args)), n, depth);
      n->st = parse_read_type (L, n, f, SCM_CADR (args));
      return n;
    case OP_IPV4_CONST:
    case OP_IPV6_CONST:
      if (!scm_is_string (items_of (SCM_CAR (args))))
        shape_error (L, n, f, "the address is a string literal");
      parse_items (L, args, n, depth);
      return n;
    default:
      parse_items (L, args, n, depth);
      return n;
    }
}

static struct node *
parse (struct lower *L, SCM x, struct node *where, int depth)
{
  struct node *n = gebpf_node (L, OP_INT, where);
  if (located_p (x))
    {
      n->file = scm_c_vector_ref (x, 1);
      n->line = scm_to_int (scm_c_vector_ref (x, 2));
      n->col = scm_to_int (scm_c_vector_ref (x, 3));
      x = scm_c_vector_ref (x, 4);
    }
  n->datum = strip_memo (L, x);
  if (depth > LOWER_MAX_DEPTH)
    gebpf_lower_error (L, n, "split the body into define-bpf-inline functions",
                       "forms nested deeper than %d levels", LOWER_MAX_DEPTH);
  if (scm_is_pair (x) || scm_is_null (x))
    return parse_form (L, x, n, depth);
  if (scm_is_exact_integer (x))
    {
      if (scm_is_signed_integer (x, INT64_MIN, -1))
        {
          n->ival = scm_to_int64 (x);
          n->uneg = true;
        }
      else if (scm_is_unsigned_integer (x, 0, UINT64_MAX))
        n->ival = (int64_t) scm_to_uint64 (x);
      else
        gebpf_lower_error (L, n, "use a literal that fits in 64 bits",
                           "integer literal out of range (between -2^63 "
                           "and 2^64-1)");
      return n;
    }
  if (scm_is_bool (x))
    {
      n->op = OP_BOOL;
      n->ival = scm_is_true (x);
      return n;
    }
  if (scm_is_string (x))
    {
      n->op = OP_STR;
      char *c = scm_to_utf8_string (x);
      n->name = scm_gc_strdup (c, "str");
      free (c);
      return n;
    }
  if (scm_is_keyword (x)
      || (scm_is_symbol (x) && gebpf_sym_str (x)[0] == ':'
          && gebpf_sym_str (x)[1]))
    {
      SCM s = gebpf_enum_symbol (x);
      long v;
      n->name = sym_name (s);
      if (gebpf_keyword_const (n->name, &v))
        {
          n->op = OP_INT;
          n->ival = v;
          return n;
        }
      n->op = OP_KEYWORD;       /* #:field, :xdp-drop ... for later passes */
      return n;
    }
  if (scm_is_symbol (x))
    {
      n->op = OP_SYM;
      n->name = sym_name (x);
      return n;
    }
  gebpf_lower_error (L, n, "use integers, #t/#f, strings, keywords and forms",
                     "unsupported literal %s", gebpf_repr (x));
}

struct node *
gebpf_parse (struct lower *L, SCM located, SCM file, int line, int col)
{
  struct node where = { 0 };
  where.file = file;
  where.line = line;
  where.col = col;
  where.datum = SCM_BOOL_F;
  check_tree (L, located, &where);
  struct node *n = gebpf_node (L, OP_BEGIN, &where);
  n->datum = strip_memo (L, located);
  parse_items (L, located, n, 0);
  if (n->nkid == 0)
    gebpf_lower_error (L, n, "give the bpf-fn a body", "empty body");
  return n;
}
