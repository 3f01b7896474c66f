/* embed.c --- a C program that embeds Guile and guile-ebpf.

   Shows: ebpf_init () from <guile-ebpf.h> inside scm_with_guile, loading
   a policy file, applying one of its policies, reading a map, and
   removing the policy again -- all through guile-ebpf's Scheme API.

   Usage (as root):  embed POLICY-FILE POLICY MAP [SECONDS]
   e.g.  ./pre-inst-env examples/embed/embed examples/embed/policy.scm \
           getpid-watch calls 1
   Build: cc embed.c $(pkg-config --cflags --libs guile-ebpf guile-3.0)  */
#include <stdio.h>
#include <stdlib.h>
#include <libguile.h>
#include <guile-ebpf.h>

struct args
{
  const char *file, *policy, *map;
  int seconds;
};

static SCM
lookup (const char *name)
{
  return scm_variable_ref (scm_c_lookup (name));
}

static void *
inner (void *data)
{
  struct args *a = data;
  ebpf_init ();
  scm_c_primitive_load (a->file);
  SCM policy = scm_call_1 (lookup ("bpf-policy-lookup"),
                           scm_from_utf8_string (a->policy));
  if (scm_is_false (policy))
    {
      fprintf (stderr, "embed: %s declares no policy %s\n", a->file, a->policy);
      return (void *) 1;
    }
  scm_call_1 (lookup ("bpf-policy-apply!"), policy);
  /* Let the policy's programs see some events.  */
  for (int i = 0; i < a->seconds * 10; i++)
    {
      scm_c_eval_string ("(getpid)");
      scm_c_eval_string ("(usleep 100000)");
    }
  SCM entries = scm_call_1 (lookup ("bpf-map->alist"),
                            scm_from_utf8_string (a->map));
  scm_display (scm_from_utf8_string (a->map), scm_current_output_port ());
  scm_display (scm_from_utf8_string (": "), scm_current_output_port ());
  scm_write (entries, scm_current_output_port ());
  scm_newline (scm_current_output_port ());
  scm_call_1 (lookup ("bpf-policy-remove!"), policy);
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc < 4)
    {
      fprintf (stderr, "usage: %s POLICY-FILE POLICY MAP [SECONDS]\n", argv[0]);
      return 2;
    }
  struct args a = { argv[1], argv[2], argv[3], argc > 4 ? atoi (argv[4]) : 1 };
  return scm_with_guile (inner, &a) ? 1 : 0;
}
