/* map_io.c --- raw libbpf baseline for the guile-ebpf map I/O benchmark.

   Creates a BPF_MAP_TYPE_HASH map (u32 key -> u64 value, 1,000,000 entries
   by default) and times, in this order, the same operations that
   map-io.scm times through guile-ebpf:

     c-single-update  bpf_map_update_elem for every key (into an empty map)
     c-single-lookup  bpf_map_lookup_elem for every key
     c-batch-lookup   bpf_map_lookup_batch over the whole map, summing values
     c-batch-update   bpf_map_update_batch of every entry (overwriting)
     c-iterate        bpf_map_get_next_key + bpf_map_lookup_elem over all

   Each result is printed as one line "NAME OPS_PER_SECOND" on stdout;
   checks and sums go to stderr.  Options: -n ENTRIES, -b BATCH (entries
   per batch call).  Needs CAP_BPF (or root).

   Built with -DMAP_IO_LIBRARY -shared, it is a library whose
   map_io_run (ENTRIES, BATCH) map-io.scm calls in its own process,
   interleaved with its own rounds: both sides then run under the same
   conditions, not seconds apart in processes of their own.  */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

/* Entries per batch call.  Batch sizes from 128 to 1,000,000 entries
   time the same within noise for both batch calls; 4096 is also the
   batch size guile-ebpf uses.  -b overrides it.  */
#define DEFAULT_BATCH 4096

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
  fprintf (stderr, "map_io: %s: %s\n", what, strerror (errno));
  exit (1);
}

static void
report (const char *name, uint64_t ops, double secs)
{
  printf ("%s %.0f\n", name, ops / secs);
  fflush (stdout);
}

static inline uint64_t
value_of (uint32_t key, uint64_t round)
{
  return (uint64_t) key * 3 + round;
}

int map_io_run (uint32_t n, uint32_t batch);

int
map_io_run (uint32_t n, uint32_t batch)
{
  if (batch == 0)
    batch = DEFAULT_BATCH;

  int fd = bpf_map_create (BPF_MAP_TYPE_HASH, "bench", sizeof (uint32_t),
                           sizeof (uint64_t), n, NULL);
  if (fd < 0)
    die ("bpf_map_create");

  /* Single-element update of every key into the empty map.  */
  double t0 = now ();
  for (uint32_t k = 0; k < n; k++)
    {
      uint64_t v = value_of (k, 1);
      if (bpf_map_update_elem (fd, &k, &v, BPF_ANY) < 0)
        die ("bpf_map_update_elem");
    }
  report ("c-single-update", n, now () - t0);

  /* Single-element lookup of every key.  */
  uint64_t sum = 0;
  t0 = now ();
  for (uint32_t k = 0; k < n; k++)
    {
      uint64_t v;
      if (bpf_map_lookup_elem (fd, &k, &v) < 0)
        die ("bpf_map_lookup_elem");
      sum += v;
    }
  report ("c-single-lookup", n, now () - t0);
  fprintf (stderr, "map_io: single lookup sum %" PRIu64 "\n", sum);

  /* Batch lookup of the whole map, a chunk at a time.  */
  uint32_t *keys = malloc ((size_t) batch * sizeof *keys);
  uint64_t *vals = malloc ((size_t) batch * sizeof *vals);
  if (!keys || !vals)
    die ("malloc");
  uint64_t token_in = 0, token_out = 0, seen = 0;
  sum = 0;
  t0 = now ();
  for (int first = 1;; first = 0)
    {
      uint32_t count = batch;
      LIBBPF_OPTS (bpf_map_batch_opts, opts);
      int r = bpf_map_lookup_batch (fd, first ? NULL : &token_in, &token_out,
                                    keys, vals, &count, &opts);
      if (r < 0 && errno != ENOENT)
        die ("bpf_map_lookup_batch");
      for (uint32_t i = 0; i < count; i++)
        sum += vals[i];
      seen += count;
      if (r < 0)
        break;
      token_in = token_out;
    }
  report ("c-batch-lookup", seen, now () - t0);
  fprintf (stderr, "map_io: batch lookup saw %" PRIu64 " entries, sum %"
           PRIu64 "\n", seen, sum);
  if (seen != n)
    {
      fprintf (stderr, "map_io: batch lookup saw %" PRIu64 " of %" PRIu32
               " entries\n", seen, n);
      return 1;
    }
  free (keys);
  free (vals);

  /* Batch update of every entry (new values), from arrays built first.  */
  keys = malloc ((size_t) n * sizeof *keys);
  vals = malloc ((size_t) n * sizeof *vals);
  if (!keys || !vals)
    die ("malloc");
  for (uint32_t k = 0; k < n; k++)
    {
      keys[k] = k;
      vals[k] = value_of (k, 2);
    }
  t0 = now ();
  for (uint32_t off = 0; off < n;)
    {
      uint32_t count = n - off < batch ? n - off : batch;
      LIBBPF_OPTS (bpf_map_batch_opts, opts);
      if (bpf_map_update_batch (fd, keys + off, vals + off, &count, &opts) < 0)
        die ("bpf_map_update_batch");
      off += count;
    }
  report ("c-batch-update", n, now () - t0);
  free (keys);
  free (vals);

  /* Element-by-element iteration: get_next_key, then lookup.  */
  uint32_t cur, next;
  seen = sum = 0;
  t0 = now ();
  for (int first = 1;; first = 0)
    {
      uint64_t v;
      if (bpf_map_get_next_key (fd, first ? NULL : &cur, &next) < 0)
        {
          if (errno == ENOENT)
            break;
          die ("bpf_map_get_next_key");
        }
      cur = next;
      if (bpf_map_lookup_elem (fd, &cur, &v) < 0)
        die ("bpf_map_lookup_elem");
      sum += v;
      seen++;
    }
  report ("c-iterate", seen, now () - t0);
  fprintf (stderr, "map_io: iteration saw %" PRIu64 " entries, sum %" PRIu64
           "\n", seen, sum);
  close (fd);
  return seen == n ? 0 : 1;
}

#ifndef MAP_IO_LIBRARY
int
main (int argc, char **argv)
{
  uint32_t n = 1000000, batch = DEFAULT_BATCH;
  int opt;
  while ((opt = getopt (argc, argv, "n:b:")) != -1)
    switch (opt)
      {
      case 'n': n = strtoul (optarg, NULL, 10); break;
      case 'b': batch = strtoul (optarg, NULL, 10); break;
      default:
        fprintf (stderr, "usage: %s [-n ENTRIES] [-b BATCH]\n", argv[0]);
        return 2;
      }
  if (n == 0 || batch == 0)
    {
      fprintf (stderr, "map_io: -n and -b must be positive\n");
      return 2;
    }
  return map_io_run (n, batch);
}
#endif
