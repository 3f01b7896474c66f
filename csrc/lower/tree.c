/* tree.c --- the lowering between passes as data: the AST and what the
   passes gathered in struct lower, written as an s-expression and read
   back, so that a test (or a curious user) can stop the pipeline after
   any pass, look at or change the tree, and run the passes after it.

   A node is (OP [NAME-OR-VALUE] KID ... (@ (ATTRIBUTE . VALUE) ...)): OP
   is gebpf_op_name's spelling; the value of an int, bool or string leaf
   or the name of any other node comes first; a kid is a node, or #f for
   a field make-S leaves out.  Every field of struct node is an
   attribute when it differs from its default, so reading the print of a
   tree gives the same tree.  The root (a begin) carries in its
   attributes what the passes keep outside the nodes: locals, maps,
   constants, inline instances, stacks held in locals, CO-RE members and
   the bounds pass's findings.

   tree-read.c reads such a tree back, checked.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lower.h"

struct node *
gebpf_tree_copy (struct node *n)
{
  if (!n)
    return NULL;
  struct node *c = scm_gc_malloc (sizeof *c, "bpf-node");
  *c = *n;
  if (n->nkid > 0)
    {
      c->kid = scm_gc_malloc (n->nkid * sizeof *c->kid, "kids");
      for (int i = 0; i < n->nkid; i++)
        c->kid[i] = gebpf_tree_copy (n->kid[i]);
    }
  return c;
}

/* ------------------------------------------------------------------ */
/* Names of the enumerations, in enum order.  */

const char *const gebpf_tree_ty_names[GEBPF_NTY] = {
  "unknown", "int", "bool", "string", "void", "ctx", "map", "header",
  "ipv4", "ipv6", "mac", "value", "value-pointer", "kernel-pointer",
  "noreturn"
};
const char *const gebpf_tree_hdr_names[GEBPF_NHDR] = {
  "none", "eth", "ipv4", "ipv6", "tcp", "udp", "icmp"
};

static SCM
sym (const char *s)
{
  return scm_from_utf8_symbol (s);
}

/* ------------------------------------------------------------------ */
/* Writing.  */

static SCM
type_obj (const struct gebpf_type *t)
{
  return GEBPF_IS (t->object, gebpf_type_type) ? t->object : t->spec;
}

/* Attributes of a typed value (a node, a local, a parameter), newest
   first onto ATTRS.  */
static SCM
typed_attrs (SCM attrs, enum ty ty, const struct gebpf_type *vt, enum hdr hdr,
             bool is_signed, int btf_id)
{
  if (ty != TY_UNKNOWN)
    attrs = scm_acons (sym ("type"), sym (gebpf_tree_ty_names[ty]), attrs);
  if (vt)
    attrs = scm_acons (sym ("value-type"), type_obj (vt), attrs);
  if (hdr != H_NONE)
    attrs = scm_acons (sym ("header"), sym (gebpf_tree_hdr_names[hdr]), attrs);
  if (is_signed)
    attrs = scm_acons (sym ("signed"), SCM_BOOL_T, attrs);
  if (btf_id)
    attrs = scm_acons (sym ("btf-id"), scm_from_int (btf_id), attrs);
  return attrs;
}

static SCM write_node (struct node *n);

static SCM
with_attrs (SCM out, SCM attrs)
{
  if (!scm_is_pair (attrs))
    return out;
  return scm_append (scm_list_2 (out, scm_list_1
                                 (scm_cons (sym ("@"),
                                            scm_reverse (attrs)))));
}

static SCM
write_inline (struct inline_inst *in)
{
  SCM params = SCM_EOL, slots = SCM_EOL;
  for (int i = in->nparams; i-- > 0;)
    {
      params = scm_cons (scm_reverse (typed_attrs (SCM_EOL, in->pty[i],
                                                   in->pvt[i], in->phdr[i],
                                                   false, 0)), params);
      slots = scm_cons (scm_from_int (in->slots[i]), slots);
    }
  SCM attrs = scm_list_4
    (scm_cons (sym ("object"), in->obj),
     scm_cons (sym ("slots"), slots),
     scm_cons (sym ("params"), params),
     scm_cons (sym ("return"),
               scm_reverse (typed_attrs (SCM_EOL, in->rty, in->rvt, in->rhdr,
                                         false, 0))));
  return scm_list_4 (sym ("inline"), scm_from_utf8_string (in->cname),
                     scm_cons (sym ("@"), attrs), write_node (in->body));
}

/* What struct lower holds beyond the body, as the root's attributes.  */
static SCM
state_attrs (struct lower *L, SCM attrs)
{
  if (L->nlocals)
    {
      SCM locals = SCM_EOL;
      for (int i = L->nlocals; i-- > 0;)
        locals = scm_cons (scm_cons (L->local_names[i],
                                     scm_reverse (typed_attrs
                                                  (SCM_EOL, L->local_ty[i],
                                                   L->local_vt[i],
                                                   L->local_hdr[i],
                                                   L->local_signed[i],
                                                   L->local_btf[i]))),
                           locals);
      attrs = scm_acons (sym ("locals"), locals, attrs);
    }
  if (scm_is_pair (L->maps))
    attrs = scm_acons (sym ("maps"), scm_reverse (L->maps), attrs);
  if (scm_is_pair (L->consts))
    attrs = scm_acons (sym ("consts"), scm_reverse (L->consts), attrs);
  if (L->insts)
    {
      SCM insts = SCM_EOL;
      for (struct inline_inst *in = L->insts; in; in = in->next)
        insts = scm_cons (write_inline (in), insts);
      attrs = scm_acons (sym ("inlines"), scm_reverse (insts), attrs);
    }
  if (scm_is_pair (L->stack_locals))
    attrs = scm_acons (sym ("stack-locals"), scm_reverse (L->stack_locals),
                       attrs);
  if (scm_is_pair (L->core_members))
    attrs = scm_acons (sym ("core-members"), scm_reverse (L->core_members),
                       attrs);
  if (L->uses_vmlinux)
    attrs = scm_acons (sym ("vmlinux"), SCM_BOOL_T, attrs);
  if (L->uses_probe)
    attrs = scm_acons (sym ("probe"), SCM_BOOL_T, attrs);
  if (L->packet_layers)
    attrs = scm_acons (sym ("packet-layers"),
                       scm_from_uint (L->packet_layers), attrs);
  return attrs;
}

static bool
is_stack (SCM s)
{
  return SCM_UNPACK (s) != 0 && scm_is_pair (s);
}

static SCM
node_attrs (struct node *n)
{
  SCM attrs = typed_attrs (SCM_EOL, n->ty, n->vt, n->hdr, n->is_signed,
                           n->btf_id);
  if (n->slot != -1)
    attrs = scm_acons (sym ("slot"), scm_from_int (n->slot), attrs);
  if (n->field != -1)
    attrs = scm_acons (sym ("field"), scm_from_int (n->field), attrs);
  if (n->st)
    attrs = scm_acons (sym ("struct"), type_obj (n->st), attrs);
  if (SCM_UNPACK (n->ref) != 0 && scm_is_true (n->ref))
    attrs = scm_acons (sym ("ref"), n->ref, attrs);
  if (is_stack (n->stack))
    attrs = scm_acons (sym ("stack"), n->stack, attrs);
  static const uint8_t zero[16];
  if (memcmp (n->addr6, zero, 16) != 0)
    {
      SCM bv = scm_c_make_bytevector (16);
      memcpy (SCM_BYTEVECTOR_CONTENTS (bv), n->addr6, 16);
      attrs = scm_acons (sym ("ipv6"), bv, attrs);
    }
  if (n->quoted)
    attrs = scm_acons (sym ("quoted"), SCM_BOOL_T, attrs);
  /* An int leaf's sign is its value's; elsewhere uneg is a flag.  */
  if (n->uneg && !(n->op == OP_INT && n->ival < 0))
    attrs = scm_acons (sym ("uneg"), SCM_BOOL_T, attrs);
  if (n->op != OP_INT && n->op != OP_BOOL && n->ival)
    attrs = scm_acons (sym ("ival"), scm_from_int64 (n->ival), attrs);
  if (n->line)
    attrs = scm_acons (sym ("line"), scm_from_int (n->line), attrs);
  if (n->col)
    attrs = scm_acons (sym ("column"), scm_from_int (n->col), attrs);
  if (scm_is_string (n->file))
    attrs = scm_acons (sym ("file"), n->file, attrs);
  if (SCM_UNPACK (n->datum) != 0 && !scm_is_false (n->datum))
    attrs = scm_acons (sym ("form"), n->datum, attrs);
  return attrs;
}

static SCM
write_node (struct node *n)
{
  if (!n)
    return SCM_BOOL_F;
  const char *op = gebpf_op_name (n->op);
  SCM out = SCM_EOL;
  for (int i = n->nkid; i-- > 0;)
    out = scm_cons (write_node (n->kid[i]), out);
  switch (n->op)
    {
    case OP_INT:
      out = scm_cons (n->uneg ? scm_from_int64 (n->ival)
                      : scm_from_uint64 ((uint64_t) n->ival), out);
      break;
    case OP_BOOL:
      out = scm_cons (scm_from_bool (n->ival), out);
      break;
    case OP_STR:
      out = scm_cons (scm_from_utf8_string (n->name ? n->name : ""), out);
      break;
    default:
      if (n->name && strcmp (n->name, op) != 0)
        out = scm_cons (sym (n->name), out);
    }
  return with_attrs (scm_cons (sym (op), out), node_attrs (n));
}

SCM
gebpf_tree_write (struct lower *L, struct node *body)
{
  if (!body)
    return SCM_BOOL_F;
  SCM out = write_node (body);
  if (body != L->body)
    return out;
  /* The root's state attributes go after its own.  */
  SCM state = state_attrs (L, SCM_EOL);
  if (!scm_is_pair (state))
    return out;
  SCM last = scm_car (scm_last_pair (out));
  if (scm_is_pair (last) && scm_is_eq (SCM_CAR (last), sym ("@")))
    {
      SCM_SETCDR (last, scm_append (scm_list_2 (SCM_CDR (last),
                                                scm_reverse (state))));
      return out;
    }
  return with_attrs (out, state);
}
