/* emit-decl.c --- emit pass: the declarations around the program.

   Everything emitted outside the program body: the C names and struct
   declarations of value types, the target check, the SEC() name, BTF-defined maps, inlines as static functions, the CO-RE
   struct subsets the body reads, and the license.  Separate from emit.c,
   which lowers body forms to expressions.  */
#define _GNU_SOURCE
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/btf.h>
#include "emit.h"

/* ---- types ---------------------------------------------------------- */

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

const char *
gebpf_emit_tname (struct emit *E, const struct gebpf_type *t)
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
      gebpf_emit_mark (E, &E->types, name);
      bf (&E->types, "typedef struct { char s[%zu]; } %s;\n", t->count, name);
      return reg (E, t, name);
    case GT_BYTES: case GT_RAW:
      snprintf (name, sizeof name, "gebpf_bytes_%zu", t->count);
      /* Two types of one size share the typedef.  */
      for (SCM l = E->typedefs; scm_is_pair (l); l = SCM_CDR (l))
        if (strcmp (gebpf_str (SCM_CDAR (l)), name) == 0)
          return reg (E, t, name);
      gebpf_emit_mark (E, &E->types, name);
      bf (&E->types, "typedef struct { __u8 b[%zu]; } %s;\n", t->count, name);
      return reg (E, t, name);
    case GT_ARRAY:
      {
        const char *el = gebpf_emit_tname (E, t->elem);
        snprintf (name, sizeof name, "gebpf_array_%d%s", E->ntypes++,
                  E->L->inst_suffix ? E->L->inst_suffix : "");
        gebpf_emit_mark (E, &E->types, name);
        bf (&E->types, "typedef struct { %s a[%zu]; } %s;\n", el, t->count,
            name);
        return reg (E, t, name);
      }
    case GT_STRUCT:
      {
        const char *fts[t->nfields ? t->nfields : 1];
        for (size_t i = 0; i < t->nfields; i++)
          fts[i] = gebpf_emit_tname (E, t->fields[i].type);
        snprintf (name, sizeof name, "struct %s", uid (t->cname));
        gebpf_emit_mark (E, &E->types, name);
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
const char *
gebpf_emit_ctype (struct emit *E, struct node *n)
{
  switch (n->ty)
    {
    case TY_INT: return n->is_signed ? "__s64" : "__u64";
    case TY_BOOL: return "int";
    case TY_IPV4: return "__be32";
    case TY_IPV6: return "struct in6_addr";
    case TY_MAC: return "struct gebpf_mac";
    case TY_VALUE: return gebpf_emit_tname (E, n->vt);
    case TY_VALPTR:
      {
        char *s = NULL;
        if (asprintf (&s, "%s *", gebpf_emit_tname (E, n->vt)) < 0)
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
        const struct btf *b = E->L->tgt.btf;
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

void
gebpf_emit_section_name (struct emit *E, char *out, size_t size)
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

void
gebpf_emit_map (struct emit *E, struct gebpf_map *m)
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
    [BPF_MAP_TYPE_XSKMAP] = "BPF_MAP_TYPE_XSKMAP",
    [BPF_MAP_TYPE_DEVMAP_HASH] = "BPF_MAP_TYPE_DEVMAP_HASH",
    [BPF_MAP_TYPE_QUEUE] = "BPF_MAP_TYPE_QUEUE",
    [BPF_MAP_TYPE_STACK] = "BPF_MAP_TYPE_STACK",
    [BPF_MAP_TYPE_RINGBUF] = "BPF_MAP_TYPE_RINGBUF",
    [BPF_MAP_TYPE_BLOOM_FILTER] = "BPF_MAP_TYPE_BLOOM_FILTER",
    [BPF_MAP_TYPE_CGROUP_ARRAY] = "BPF_MAP_TYPE_CGROUP_ARRAY",
  };
  const char *kt = NULL, *vt = NULL;
  if (m->hist_keyed)
    {
      /* The key's type first: it is a declaration of its own.  */
      const char *hk = gebpf_emit_tname (E, m->hist_key);
      char key[200];
      snprintf (key, sizeof key, "struct gebpf_hk_%s", m->cname);
      gebpf_emit_mark (E, &E->types, key);
      bf (&E->types, "%s { %s key; __u32 slot; };\n", key, hk);
    }
  bool typed = m->map_type == BPF_MAP_TYPE_HASH
    || m->map_type == BPF_MAP_TYPE_ARRAY || m->map_type == BPF_MAP_TYPE_PERCPU_HASH
    || m->map_type == BPF_MAP_TYPE_PERCPU_ARRAY
    || m->map_type == BPF_MAP_TYPE_LRU_HASH
    || m->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH
    || m->map_type == BPF_MAP_TYPE_LPM_TRIE;
  if (typed)
    {
      kt = m->hist_keyed ? NULL : gebpf_emit_tname (E, m->key);
      vt = gebpf_emit_tname (E, m->value);
    }
  gebpf_emit_mark (E, b, uid (m->cname));
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
    bf (b, "\t__type(value, %s);\n", gebpf_emit_tname (E, m->value));
  else if (m->value_size)
    bf (b, "\t__uint(value_size, %u);\n", m->value_size);
  if (m->map_flags)
    bf (b, "\t__uint(map_flags, %u);\n", m->map_flags);
  /* The symbol (and so the BTF variable, the kernel's map name and
     what loaders such as bpfman see) is the user's NAME.  */
  bf (b, "} %s __asm__ (\"%s\") SEC(\".maps\");\n\n", uid (m->cname),
      m->cname);
}

void
gebpf_emit_inline (struct emit *E, struct inline_inst *in)
{
  struct buf *b = &E->inlines;
  struct buf body = { 0 };
  E->in_inline = true;
  bs (&body, "\treturn ({ ");
  gebpf_emit_body_seq (E, &body, in->body, 0, true);
  bs (&body, " });\n}\n\n");
  E->in_inline = false;
  struct node r = { .ty = in->rty, .vt = in->rvt, .hdr = in->rhdr };
  /* The types of its signature are declarations of their own.  */
  const char *rt = in->rty == TY_VOID ? "void" : gebpf_emit_ctype (E, &r);
  const char *pts[in->nparams ? in->nparams : 1];
  for (int i = 0; i < in->nparams; i++)
    {
      struct node p = { .ty = in->pty[i], .vt = in->pvt[i], .hdr = in->phdr[i],
                        .is_signed = E->L->local_signed[in->slots[i]] };
      pts[i] = gebpf_emit_ctype (E, &p);
    }
  gebpf_emit_mark (E, b, in->cname);
  bf (b, "static __always_inline %s\n%s (", rt, in->cname);
  for (int i = 0; i < in->nparams; i++)
    bf (b, "%s%s v%d", i ? ", " : "", pts[i], in->slots[i]);
  if (!in->nparams)
    bs (b, "void");
  bs (b, ")\n{");
  if (in->rty == TY_VOID)
    {
      /* A void inline: no return of the statement expression's value.  */
      bs (b, "\n\t({ ");
      E->in_inline = true;
      gebpf_emit_body_seq (E, b, in->body, 0, false);
      E->in_inline = false;
      bs (b, " });\n}\n\n");
      return;
    }
  bput (b, body.p, body.len);
}

/* ---- declarations in parts -------------------------------------------- */

void
gebpf_emit_mark (struct emit *E, struct buf *b, const char *key)
{
  E->marks = scm_cons (scm_cons2 (scm_from_pointer (b, NULL),
                                  scm_from_utf8_string (key),
                                  scm_from_size_t (b->len)), E->marks);
}

/* The declarations in the order the C text has them (types, maps,
   constants, inlines), each ((KEY . TEXT)) cut at its mark.  */
SCM
gebpf_emit_declarations (struct emit *E)
{
  struct buf *bufs[] = { &E->types, &E->maps, &E->consts, &E->inlines };
  SCM out = SCM_EOL;
  SCM marks = scm_reverse (E->marks);
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    {
      struct buf *b = bufs[i];
      SCM key = SCM_BOOL_F;
      size_t start = 0;
      for (SCM l = marks; ; l = SCM_CDR (l))
        {
          bool end = !scm_is_pair (l);
          if (!end && scm_to_pointer (SCM_CAAR (l)) != b)
            continue;
          size_t at = end ? b->len : scm_to_size_t (SCM_CDDAR (l));
          if (at > start)
            /* Text before the first mark would be a declaration no
               emitter named: keyed by its position, never merged.  */
            out = scm_acons (scm_is_true (key) ? key
                             : scm_from_utf8_string ("(unnamed)"),
                             scm_from_utf8_stringn (b->p + start, at - start),
                             out);
          if (end)
            break;
          key = SCM_CADAR (l);
          start = at;
        }
    }
  return scm_reverse_x (out, SCM_EOL);
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
  char key[300];
  snprintf (key, sizeof key, "%s %s___gebpf",
            btf_is_union (t) ? "union" : "struct",
            btf__name_by_offset (b, t->name_off));
  gebpf_emit_mark (E, &E->types, key);
  bf (&E->types, "%s {\n", key);
  if (body.len)
    bput (&E->types, body.p, body.len);
  bs (&E->types, "} __attribute__((preserve_access_index));\n");
}

void
gebpf_emit_core_types (struct emit *E)
{
  const struct btf *b = E->L->tgt.btf;
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
  gebpf_emit_mark (E, &E->types, "/* CO-RE */");
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
const char *
gebpf_emit_license_of (struct lower *L)
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
const char *
gebpf_emit_spdx_of (const char *lic)
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
