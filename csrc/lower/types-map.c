/* types-map.c --- pass 3, maps: the type rules of the forms that name a
   map.

   map-get, map-ref, map-set!, map-delete!, map-increment!, hist!,
   lhist!, emit!, perf-emit!, under-cgroup? and stack-id: the map named directly, of a
   kind the form fits, keys and values against the map's declared types
   (types.c's gebpf_check_fits), and the maps programs key by stacks
   (noted for bpf-print-map).  Part of the one type pass: types.c types
   a form's operands, then hands it here.  */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include "lower.h"
#include "../map.h"

struct gebpf_map *
gebpf_want_map (struct lower *L, struct node *n, const char *form)
{
  if (n->ty != TY_MAP)
    gebpf_lower_error (L, n, "name a map declared with defbpf-map",
                       "%s needs a map, got %s", form, gebpf_tyname (n->ty));
  /* (begin m), (if C m1 m2): a map chosen at run time has no C
     expression; the generated code names each map it uses.  */
  if (n->op != OP_MAPREF || !GEBPF_IS (n->ref, gebpf_map_type))
    gebpf_lower_error (L, n, "name the map itself, e.g. (map-get m KEY); "
                       "choose between maps with if around the whole call",
                       "%s needs a map named directly, not computed",
                       form);
  return scm_foreign_object_ref (n->ref, 0);
}

static void
note_stack_key (struct lower *L, struct node *n, struct gebpf_map *m)
{
  if (!gebpf_is_stack (n->stack) || m->hist_keyed)
    return;
  bool user = scm_is_eq (SCM_CDR (n->stack), scm_from_utf8_symbol ("user"));
  if (m->key->size < (user ? 8u : 4u))
    gebpf_lower_error (L, n, user ? "declare the map with #:key 'u64: a "
                       "(ustack) key holds the stack id and the process id"
                       : "declare the map with #:key 'u32",
                       "map %s has %zu-byte keys, too small for a stack",
                       m->name, m->key->size);
  gebpf_stack_key_note (m, n->stack);
}

static void
check_key (struct lower *L, struct node *n, struct gebpf_map *m)
{
  if (!m->key)
    gebpf_lower_error (L, n, "use emit! for ring buffers",
                       "map %s has no keys", m->name);
  char what[128];
  snprintf (what, sizeof what, "the key of map %s", m->name);
  gebpf_check_fits (L, n, m->hist_keyed ? m->hist_key : m->key, what);
  note_stack_key (L, n, m);
}

static void
check_value (struct lower *L, struct node *n, struct gebpf_map *m)
{
  char what[128];
  snprintf (what, sizeof what, "the value of map %s", m->name);
  if (!m->value)
    gebpf_lower_error (L, n, "use emit! for ring buffers",
                       "map %s holds no values", m->name);
  gebpf_check_fits (L, n, m->value, what);
}

/* The kids of N are typed.  */
void
gebpf_type_map_form (struct lower *L, struct node *n)
{
  switch (n->op)
    {
    case OP_MAP_GET:
    case OP_MAP_REF:
      {
                struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        check_key (L, n->kid[1], m);
        if (!m->value)
          gebpf_lower_error (L, n, "read ring buffers from Scheme with "
                             "bpf-ringbuf-poll", "map %s holds no values",
                             m->name);
        if (n->op == OP_MAP_GET)
          {
            n->ty = TY_VALPTR;
            n->vt = m->value;
            return;
          }
        gebpf_set_value_ty (n, m->value);
        if (n->nkid == 3)
          check_value (L, n->kid[2], m);
        return;
      }
    case OP_MAP_SET:
      {
                struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        check_key (L, n->kid[1], m);
        check_value (L, n->kid[2], m);
        n->ty = TY_VOID;
        return;
      }
    case OP_MAP_DELETE:
      {
                struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        check_key (L, n->kid[1], m);
        n->ty = TY_VOID;
        return;
      }
    case OP_MAP_INC:
      {
                struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        check_key (L, n->kid[1], m);
        if (!m->value || gebpf_value_ty (m->value) != TY_INT
            || (m->value_size != 4 && m->value_size != 8)
            || m->value->kind == GT_BE32 || m->value->kind == GT_BE64)
          gebpf_lower_error (L, n, "count into a map of u32 or u64 values",
                             "map-increment! needs 4 or 8-byte integer "
                             "values in map %s", m->name);
        if (n->nkid == 3)
          gebpf_want_int (L, n->kid[2], "map-increment!");
        n->ty = TY_VOID;
        return;
      }
    case OP_HIST:
    case OP_LHIST:
      {
                struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        if (strcmp (m->kind->name, "histogram") != 0)
          gebpf_lower_error (L, n->kid[0], "declare it with #:kind 'histogram",
                             "%s needs a histogram map, and %s is a %s",
                             n->name, m->name, m->kind->name);
        bool keyed = n->op == OP_HIST && n->nkid == 3;
        if (keyed != m->hist_keyed)
          gebpf_lower_error (L, n, keyed ? "declare the histogram with #:key"
                             : "give the key: (hist! MAP KEY VALUE)",
                             keyed ? "histogram %s has no key"
                             : "histogram %s is keyed", m->name);
        if (keyed)
          check_key (L, n->kid[1], m);
        gebpf_want_int (L, n->kid[n->op == OP_HIST ? n->nkid - 1 : 1], n->name);
        if (n->op == OP_LHIST)
          {
            for (int i = 2; i < 5; i++)
              if (n->kid[i]->op != OP_INT || n->kid[i]->uneg)
                gebpf_lower_error (L, n->kid[i], "give constant MIN MAX STEP",
                                   "lhist! bounds must be constants >= 0");
            int64_t lo = n->kid[2]->ival, hi = n->kid[3]->ival,
              st = n->kid[4]->ival;
            if (st <= 0 || hi <= lo || (hi - lo) / st + 2 > 64)
              gebpf_lower_error (L, n, "keep (MAX - MIN) / STEP + 2 <= 64 "
                                 "buckets, STEP > 0",
                                 "bad lhist! range %lld..%lld step %lld",
                                 (long long) lo, (long long) hi,
                                 (long long) st);
          }
        n->ty = TY_VOID;
        return;
      }
    case OP_EMIT:
    case OP_PERF_EMIT:
      {
                struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        unsigned want = n->op == OP_EMIT ? BPF_MAP_TYPE_RINGBUF
          : BPF_MAP_TYPE_PERF_EVENT_ARRAY;
        if (m->map_type != want)
          gebpf_lower_error (L, n->kid[0], n->op == OP_EMIT
                             ? "emit! into a ringbuf map"
                             : "perf-emit! into a perf-event-array map",
                             "map %s is a %s", m->name, m->kind->name);
        struct node *v = n->kid[1];
        if (!(gebpf_intlike (v->ty) || v->ty == TY_VALUE || v->ty == TY_IPV4))
          gebpf_lower_error (L, v, "emit a struct value or an integer",
                             "cannot emit %s", gebpf_tyname (v->ty));
        if (m->record && v->ty == TY_VALUE && v->vt != m->record)
          gebpf_lower_error (L, v, "emit values of the map's #:value type",
                             "map %s records another type", m->name);
        if (n->nkid == 4)
          {
            /* The kernel takes the count in the flags' upper 32 bits.  */
            n->kid[2]->ty = TY_VOID;
            gebpf_want_int (L, n->kid[3], "perf-emit! #:packet-bytes");
            if (n->kid[3]->op == OP_INT
                && (n->kid[3]->uneg || n->kid[3]->ival > 0xffff))
              gebpf_lower_error (L, n->kid[3], "give a count from 0 to 65535",
                                 "perf-emit! #:packet-bytes %lld is out of "
                                 "range", (long long) n->kid[3]->ival);
          }
        n->ty = TY_VOID;
        return;
      }
    case OP_UNDER_CGROUP:
      {
        struct gebpf_map *m = gebpf_want_map (L, n->kid[0], n->name);
        if (m->map_type != BPF_MAP_TYPE_CGROUP_ARRAY)
          gebpf_lower_error (L, n->kid[0], "declare it with #:kind "
                             "'cgroup-array",
                             "under-cgroup? needs a cgroup-array, and %s is "
                             "a %s", m->name, m->kind->name);
        gebpf_want_int (L, n->kid[1], n->name);
        n->ty = TY_BOOL;
        return;
      }
    case OP_STACK_ID:
      {
                struct gebpf_map *m = gebpf_want_map (L, n->kid[1], "stack-id");
        if (m->map_type != BPF_MAP_TYPE_STACK_TRACE)
          gebpf_lower_error (L, n->kid[1], "declare a #:kind 'stack-trace map",
                             "map %s is not a stack-trace map", m->name);
        n->ty = TY_INT;
        n->is_signed = true;
        n->stack = scm_cons (n->kid[1]->ref, scm_from_utf8_symbol ("id"));
        return;
      }
    default:
      return;                   /* types.c sends only the forms above */
    }
}
