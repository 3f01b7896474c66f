/* stacks.c --- stacks in maps: the stack-trace map (kstack) and (ustack)
   record into, and which maps programs key by stacks.

   The map is declared (through %make-bpf-map) the first time a bpf-fn
   names a stack, and shared by every program; the lowering notes each
   map whose keys are stacks, so bpf-print-map prints those keys as
   frames (named by symbols.c).  */
#include <config.h>
#include "gebpf.h"
#include "map.h"

static SCM make_map_proc;       /* %make-bpf-map */

/* (kstack) and (ustack) record into this stack-trace map, declared on
   first use and shared by every program.  */
#define STACKS_NAME "gebpf-stacks"
#define STACKS_ENTRIES 4096

static SCM stack_keys;          /* hash: map name symbol -> (STACKMAP . MODE) */

/* The stack-trace map (kstack) and (ustack) record into.  */
SCM
gebpf_stacks_map (void)
{
  SCM name = scm_from_utf8_string (STACKS_NAME);
  SCM m = gebpf_map_lookup (name);
  if (scm_is_true (m))
    return m;
  SCM args[10] = {
    name, scm_from_utf8_symbol ("stack-trace"), SCM_BOOL_F, SCM_BOOL_F,
    SCM_BOOL_F, SCM_BOOL_F, scm_from_int (STACKS_ENTRIES), SCM_BOOL_F,
    SCM_BOOL_F,
    scm_list_2 (SCM_BOOL_F,
                scm_from_utf8_string ("Stacks recorded by (kstack) and "
                                      "(ustack)."))
  };
  return scm_call_n (make_map_proc, args, 10);
}

/* Called by the lowering for a map whose keys are stacks: STACK is
   (STACKMAP . MODE), MODE kernel ((kstack): the id), user ((ustack):
   the id in the low 32 bits, the process id above) or id (stack-id).
   bpf-print-map prints such keys as frames.  */
void
gebpf_stack_key_note (const struct gebpf_map *m, SCM stack)
{
  scm_hashq_set_x (stack_keys, scm_from_utf8_symbol (m->name), stack);
}

#define FUNC_NAME s_scm_bpf_stack_key
SCM_DEFINE_STATIC (scm_bpf_stack_key, "%bpf-stack-key", 1, 0, 0, (SCM map),
                   "Return @code{(STACKMAP . MODE)} when programs use stacks "
                   "as the keys of @var{map} (MODE @code{kernel}, "
                   "@code{user} or @code{id}), else @code{#f}.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  return scm_hashq_ref (stack_keys, scm_from_utf8_symbol (m->name),
                        SCM_BOOL_F);
}
#undef FUNC_NAME

void
gebpf_init_stacks (void)
{
  stack_keys = scm_permanent_object (scm_c_make_hash_table (31));
  /* map.c defined it in this module before us.  */
  make_map_proc = scm_permanent_object
    (scm_variable_ref (scm_c_lookup ("%make-bpf-map")));
#ifndef SCM_MAGIC_SNARFER
#include "stacks.x"
#endif
}
