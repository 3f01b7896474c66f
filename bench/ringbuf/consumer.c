/* consumer.c --- the raw libbpf consumer of the ring buffer benchmark.

   Usage: consumer OBJECT GENERATOR N MODE

   Loads OBJECT (rb.bpf.o), starts GENERATOR (gen) for N getpid calls,
   points the program at it, attaches, and consumes the 16-byte events
   with libbpf's ring_buffer, reading each event's fields:

     adaptive  the kernel's adaptive wake-ups, ring_buffer__poll
     batch     events submitted with BPF_RB_NO_WAKEUP, the ring drained
               with ring_buffer__consume every 10 ms
     drain     as batch, but nothing is consumed until the generator is
               done; SECONDS is then the time to empty the full ring

   Prints one line: "c-MODE EVENTS DROPPED SECONDS GENERATOR-SECONDS",
   SECONDS running from the generator's start to the last event
   consumed.  Needs CAP_BPF and CAP_PERFMON (or root).  */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct event
{
  unsigned long long ts;
  unsigned int cpu, pid;
};

static unsigned long long count, checksum;

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
die (const char *what)
{
  fprintf (stderr, "consumer: %s: %s\n", what, strerror (errno));
  exit (1);
}

static int
on_event (void *ctx, void *data, size_t size)
{
  const struct event *e = data;
  count++;
  checksum += e->cpu + e->pid + (e->ts & 1);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc != 5)
    {
      fprintf (stderr, "usage: consumer OBJECT GENERATOR N "
               "adaptive|batch|drain\n");
      return 2;
    }
  const char *mode = argv[4];
  int drain = strcmp (mode, "drain") == 0;
  int batch = drain || strcmp (mode, "batch") == 0;

  struct bpf_object *obj = bpf_object__open_file (argv[1], NULL);
  if (!obj)
    die ("opening the object");
  if (bpf_object__load (obj))
    die ("loading the object");
  int config = bpf_object__find_map_fd_by_name (obj, "config");
  int dropped = bpf_object__find_map_fd_by_name (obj, "dropped");
  int events = bpf_object__find_map_fd_by_name (obj, "events");
  struct bpf_program *prog = bpf_object__find_program_by_name (obj,
                                                               "on_getpid");
  if (config < 0 || dropped < 0 || events < 0 || !prog)
    die ("finding the maps and program");

  int to_gen[2], from_gen[2];
  if (pipe (to_gen) || pipe (from_gen))
    die ("pipe");
  pid_t child = fork ();
  if (child < 0)
    die ("fork");
  if (child == 0)
    {
      dup2 (to_gen[0], 0);
      dup2 (from_gen[1], 1);
      close (to_gen[1]);
      close (from_gen[0]);
      execl (argv[2], argv[2], argv[3], (char *) NULL);
      _exit (127);
    }
  close (to_gen[0]);
  close (from_gen[1]);
  FILE *gen_out = fdopen (from_gen[0], "r");
  long gen_pid;
  if (fscanf (gen_out, "%ld", &gen_pid) != 1)
    die ("reading the generator's pid");

  unsigned int k = 0;
  unsigned long long v = gen_pid;
  bpf_map_update_elem (config, &k, &v, BPF_ANY);
  k = 1;
  v = batch ? BPF_RB_NO_WAKEUP : 0;
  bpf_map_update_elem (config, &k, &v, BPF_ANY);
  struct bpf_link *link = bpf_program__attach (prog);
  if (!link)
    die ("attaching");
  struct ring_buffer *rb = ring_buffer__new (events, on_event, NULL, NULL);
  if (!rb)
    die ("ring_buffer__new");

  double t0 = now ();
  if (write (to_gen[1], "go\n", 3) != 3)
    die ("starting the generator");
  struct pollfd done = { from_gen[0], POLLIN, 0 };
  /* drain: nothing is consumed while the generator runs.  */
  if (drain)
    poll (&done, 1, -1);
  for (; !drain;)
    {
      if (batch)
        {
          struct timespec ts = { 0, 10 * 1000000 };
          nanosleep (&ts, NULL);
          ring_buffer__consume (rb);
        }
      else
        ring_buffer__poll (rb, 100);
      if (poll (&done, 1, 0) > 0)
        break;
    }
  double gen_seconds = 0;
  if (fscanf (gen_out, " done %lf", &gen_seconds) != 1)
    die ("reading the generator's time");
  waitpid (child, NULL, 0);
  if (drain)
    t0 = now ();                /* only emptying the full ring is timed */
  while (ring_buffer__consume (rb) > 0)
    ;
  double t1 = now ();

  int ncpus = libbpf_num_possible_cpus ();
  unsigned long long per_cpu[ncpus > 0 ? ncpus : 1], drops = 0;
  k = 0;
  if (bpf_map_lookup_elem (dropped, &k, per_cpu) == 0)
    for (int i = 0; i < ncpus; i++)
      drops += per_cpu[i];
  printf ("c-%s %llu %llu %.6f %.6f\n", mode, count, drops, t1 - t0,
          gen_seconds);
  fprintf (stderr, "checksum %llu\n", checksum);
  ring_buffer__free (rb);
  bpf_link__destroy (link);
  bpf_object__close (obj);
  return 0;
}
