/* loader.c --- the start-up benchmark's precompiled libbpf loader.

   Usage: loader OBJECT.bpf.o

   Opens the object, sets its constant target_pid to this process, loads
   it, attaches its tracepoint program, calls getpid once, waits until
   the map shows the count, prints it and exits: the same job as
   startup.scm, with the BPF object built ahead of time.  Reports on
   standard error how long the detach took ("detach-ms MS"): the
   kernel's removal of the tracepoint probe, which every contender pays
   (explicitly or at exit).  */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int
silent (enum libbpf_print_level level, const char *fmt, va_list ap)
{
  return level == LIBBPF_WARN ? vfprintf (stderr, fmt, ap) : 0;
}

int
main (int argc, char **argv)
{
  struct bpf_object *obj;
  struct bpf_program *prog;
  struct bpf_map *rodata, *counts;
  struct bpf_link *link;
  size_t size;
  __u32 *target, key = 0;
  __u64 value = 0;
  struct timespec t0, t1;

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s OBJECT.bpf.o\n", argv[0]);
      return 2;
    }
  libbpf_set_print (silent);
  obj = bpf_object__open_file (argv[1], NULL);
  if (!obj)
    {
      perror ("bpf_object__open_file");
      return 1;
    }
  rodata = bpf_object__find_map_by_name (obj, ".rodata");
  /* Writable until load (libbpf 1.1 declares the result const).  */
  target = rodata ? (__u32 *) bpf_map__initial_value (rodata, &size) : NULL;
  if (!target || size < sizeof *target)
    {
      fprintf (stderr, "%s: no .rodata with target_pid\n", argv[1]);
      return 1;
    }
  *target = getpid ();
  if (bpf_object__load (obj))
    {
      perror ("bpf_object__load");
      return 1;
    }
  prog = bpf_object__find_program_by_name (obj, "count_getpid");
  counts = bpf_object__find_map_by_name (obj, "counts");
  link = prog ? bpf_program__attach (prog) : NULL;
  if (!link || !counts)
    {
      perror ("bpf_program__attach");
      return 1;
    }
  syscall (SYS_getpid);
  while (value == 0)
    if (bpf_map_lookup_elem (bpf_map__fd (counts), &key, &value))
      {
        perror ("bpf_map_lookup_elem");
        return 1;
      }
  printf ("%llu\n", (unsigned long long) value);
  fflush (stdout);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  bpf_link__destroy (link);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  fprintf (stderr, "detach-ms %.3f\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  bpf_object__close (obj);
  return 0;
}
