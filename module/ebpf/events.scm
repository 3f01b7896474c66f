;;; (ebpf events) --- ring buffers, perf buffers and the trace pipe into Scheme.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Ring buffers: a reader per map (libbpf's ring_buffer, in the C core)
;;; takes records decoded by the map's record type; the handler runs here,
;;; in Scheme, after the C side has returned.  A consumer thread drains a
;;; ring in the background: by default it switches the ring's wake-ups off
;;; (emit! then submits with BPF_RB_NO_WAKEUP) and drains it every few
;;; milliseconds, the fastest way to move many small events; with
;;; #:interval-ms #f it sleeps until the kernel wakes it.  Records a full
;;; ring refused are counted by emit! in the ring's control map, so
;;; bpf-ringbuf-stats can say how many were lost.  Perf buffers and the
;;; trace pipe are read here too.
;;;
;;; The public interface also holds what the kernel recorded, read back:
;;; histograms and maps printed as bpftrace prints them (ebpf print),
;;; stacks and addresses symbolized (ebpf stacks), and the probes a glob
;;; matches (ebpf probes), re-exported from those private modules.

(define-module (ebpf events)
  #:use-module ((ebpf core) #:select (%bpf-ringbuf-control %bpf-record-type
                                      %bpf-ringbuf-open %bpf-ringbuf-take
                                      %bpf-ringbuf-reader-info
                                      %bpf-ringbuf-close! %bpf-perf-open
                                      %bpf-perf-take %bpf-perf-reader-info
                                      %bpf-perf-close! %bpf-tracefs))
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module (ebpf print)
  #:use-module (ebpf stacks)
  #:use-module (ebpf probes)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (srfi srfi-11)
  #:use-module (ice-9 atomic)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (ice-9 threads)
  #:use-module (rnrs bytevectors)
  #:re-export (bpf-hist
               bpf-print-hist
               bpf-print-map
               bpf-stack-addresses
               bpf-stack-symbols
               bpf-ksym
               bpf-usym
               bpf-list-probes
               bpf-probe-info)
  #:export (bpf-ringbuf-poll
            bpf-ringbuf-start!
            bpf-ringbuf-stop!
            bpf-ringbuf-running?
            bpf-ringbuf-fd
            bpf-ringbuf-stats
            bpf-ringbuf-wakeup
            bpf-ringbuf-set-wakeup!
            bpf-ringbuf-close!
            bpf-ringbuf-names
            bpf-record-type
            bpf-perf-poll
            bpf-perf-fd
            bpf-perf-stats
            bpf-perf-close!
            bpf-trace-pipe))

(define (bpf-record-type map)
  "Return the @code{<bpf-type>} the records of @var{map} (a ringbuf or
perf-event-array map, or its name) are decoded by: its declared
@code{#:value}, else the type the loaded programs @code{emit!} into it;
@code{#f} when records are handed over as bytevectors."
  (%bpf-record-type (map-of-kind map 'bpf-record-type '(ringbuf perf-event-array))))

;;; ------------------------------------------------------------------
;;; Ring buffers.

(define-record-type <ring>
  (make-ring map reader pending pending-at delivered errors thread stop mode)
  ring?
  (map ring-map)
  (reader ring-reader set-ring-reader!)
  ;; Taken, not yet handled: the records of the vector PENDING from
  ;; index PENDING-AT on.
  (pending ring-pending set-ring-pending!)
  (pending-at ring-pending-at set-ring-pending-at!)
  (delivered ring-delivered set-ring-delivered!)
  (errors ring-errors set-ring-errors!)         ; handler exceptions
  (thread ring-thread set-ring-thread!)
  (stop ring-stop)                              ; atomic box: #t to stop
  (mode ring-mode set-ring-mode!))              ; wake-up mode we set

(define rings (make-weak-key-hash-table))      ; <bpf-map> -> <ring>
(define rings-lock (make-mutex))

(define (ring-of rb who)
  (let ((m (map-of-kind rb who '(ringbuf))))
    (with-mutex rings-lock
      (or (hashq-ref rings m)
          (let ((r (make-ring m (%bpf-ringbuf-open m) #() 0 0 0 #f
                              (make-atomic-box #f) #f)))
            (hashq-set! rings m r)
            r)))))

(define (bpf-ringbuf-names)
  "Return the names of the ring buffers this process has read from."
  (with-mutex rings-lock
    (sort (hash-map->list (lambda (m r) (bpf-map-name m)) rings) string<?)))

(define (deliver! r handler events)
  ;; Hand the vector EVENTS to HANDLER in order.  What is left when
  ;; HANDLER raises stays pending, for the next poll.
  (let ((n (vector-length events)))
    (set-ring-pending! r events)
    (let lp ((i 0))
      (when (< i n)
        (set-ring-pending-at! r (+ i 1))
        (set-ring-delivered! r (+ 1 (ring-delivered r)))
        (handler (vector-ref events i))
        (lp (+ i 1))))
    (set-ring-pending! r #())
    (set-ring-pending-at! r 0)))

(define (take-pending! r)
  ;; The records taken and not yet handled, as a vector; none remain.
  (let ((v (ring-pending r)) (at (ring-pending-at r)))
    (set-ring-pending! r #())
    (set-ring-pending-at! r 0)
    (if (zero? at) v (vector-copy v at))))

;; Records taken per crossing into C: a bounded batch keeps the live
;; set small while the handler runs, so the collector stays cheap.
(define take-chunk 8192)

(define (chunk max)
  (if (and (exact-integer? max) (> max take-chunk)) take-chunk max))

(define (not-while-running r who)
  (when (ring-thread r)
    (raise-ebpf-error 'ebpf-error who
                      (format #f "ring buffer ~a has a consumer thread"
                              (bpf-map-name (ring-map r)))
                      #:fix "stop it first with bpf-ringbuf-stop!, or let it handle the events")))

(define (check-handler handler who)
  (unless (procedure? handler)
    (raise-ebpf-error 'ebpf-validation-error who
                      (format #f "handler ~s is not a procedure" handler)
                      #:fix "give a procedure of one argument, the decoded event")))

(define* (bpf-ringbuf-poll rb handler #:key (timeout-ms 100) (max 65536))
  "Call @var{handler} on each record waiting in ring buffer @var{rb} (a
ringbuf map or its name), oldest first, and return how many it handled.
When the ring is empty, wait up to @var{timeout-ms} milliseconds (0: do
not wait; -1: for ever) for records.  At most @var{max} records are
taken per call.

Each record is decoded by the map's record type: the map's
@code{#:value} (a @code{defbpf-struct} record, an integer ...), else the
type loaded programs @code{emit!} into it, else a bytevector.

If @var{handler} raises, the exception propagates and the records not
yet handled are kept: the next poll hands them over first.  Raises
@code{ebpf-error} while a consumer thread (@code{bpf-ringbuf-start!})
owns the ring, @code{ebpf-validation-error} for a map of another kind."
  (check-handler handler 'bpf-ringbuf-poll)
  (let* ((r (ring-of rb 'bpf-ringbuf-poll))
         (_ (not-while-running r 'bpf-ringbuf-poll))
         (before (ring-delivered r))
         (pending (take-pending! r))
         (reader (ring-reader r)))
    (deliver! r handler pending)
    ;; Take in chunks until MAX records are taken or the ring is empty;
    ;; only the first take waits, and only when nothing was pending.
    (let lp ((left max) (ms (if (zero? (vector-length pending)) timeout-ms 0)))
      ;; A bad MAX goes to the C take, which names it.
      (let* ((want (chunk left))
             (events (%bpf-ringbuf-take reader ms want 'wait)))
        (deliver! r handler events)
        (when (and (= (vector-length events) want) (> left want))
          (lp (- left want) 0))))
    (- (ring-delivered r) before)))

(define wakeup-flags '((adaptive . 0) (batch . 1) (every . 2)))

(define (bpf-ringbuf-set-wakeup! rb mode)
  "Set how @code{emit!} into ring buffer @var{rb} wakes its consumers:
@code{adaptive} (the kernel's default: a wake-up when the consumer has
caught up), @code{batch} (no wake-ups, @code{BPF_RB_NO_WAKEUP}: a
consumer drains the ring on an interval, the fastest way to move many
small events) or @code{every} (a wake-up per record,
@code{BPF_RB_FORCE_WAKEUP}).  Takes effect at once, in every program that
emits into @var{rb}; no reload.  Raises @code{ebpf-validation-error} for
an unknown mode."
  (let* ((m (map-of-kind rb 'bpf-ringbuf-set-wakeup! '(ringbuf)))
         (flag (assq-ref wakeup-flags mode)))
    (unless flag
      (raise-ebpf-error 'ebpf-validation-error 'bpf-ringbuf-set-wakeup!
                        (format #f "unknown wake-up mode ~s" mode)
                        #:fix "use adaptive, batch or every"))
    (bpf-map-set! (%bpf-ringbuf-control m #t) 1 flag)
    mode))

(define (bpf-ringbuf-wakeup rb)
  "Return the wake-up mode of ring buffer @var{rb}: @code{adaptive},
@code{batch} or @code{every} (see @code{bpf-ringbuf-set-wakeup!})."
  (let* ((m (map-of-kind rb 'bpf-ringbuf-wakeup '(ringbuf)))
         (ctl (%bpf-ringbuf-control m #f))
         (flag (if ctl (vector-ref (bpf-map-ref ctl 1) 0) 0)))
    (or (any (match-lambda ((k . v) (and (= v flag) k))) wakeup-flags)
        flag)))

(define (report-handler-error r port key args)
  (false-if-exception
   (begin
     (format port "bpf-ringbuf: the handler of ring buffer ~a raised an exception (the consumer goes on):~%"
             (bpf-map-name (ring-map r)))
     (print-exception port #f key args)
     (force-output port))))

(define (deliver-reporting! r handler events port)
  ;; Deliver EVENTS; a handler exception is reported to PORT and
  ;; counted, and delivery goes on with the next event.
  (let retry ((l events))
    (catch #t
      (lambda () (deliver! r handler l))
      (lambda (key . args)
        (set-ring-errors! r (+ 1 (ring-errors r)))
        (report-handler-error r port key args)
        (retry (take-pending! r))))))

(define (consume-loop r handler interval timeout max port)
  (let ((reader (ring-reader r))
        (stop (ring-stop r))
        (max (chunk max)))
    (let loop ((full? #f))
      (unless (atomic-box-ref stop)
        (let ((events (if interval
                          (%bpf-ringbuf-take reader (if full? 0 interval) max 'sleep)
                          (%bpf-ringbuf-take reader timeout max 'wait))))
          (deliver-reporting! r handler events port)
          (loop (= (vector-length events) max)))))
    ;; Stopping: hand over what is left, so nothing emitted before the
    ;; stop is lost.
    (let drain ()
      (let ((events (%bpf-ringbuf-take reader 0 max 'wait)))
        (unless (zero? (vector-length events))
          (deliver-reporting! r handler events port)
          (drain))))))

(define* (bpf-ringbuf-start! rb handler #:key (interval-ms 10)
                             (timeout-ms 100) (max 65536)
                             (error-port (current-error-port)))
  "Start a background thread that calls @var{handler} on every record of
ring buffer @var{rb}, and return @var{rb}.  The REPL (or the rest of the
program) stays usable; @code{bpf-ringbuf-stop!} stops it.

By default the ring's wake-ups are switched off (@code{batch}, see
@code{bpf-ringbuf-set-wakeup!}) and the thread drains the ring every
@var{interval-ms} milliseconds, at once again when a drain was full: the
fastest mode for many small events.  With @var{interval-ms} @code{#f} the
thread sleeps until the kernel wakes it (adaptive wake-ups), checking for
a stop every @var{timeout-ms}.

An exception raised by @var{handler} is printed on @var{error-port} and
counted (@code{handler-errors} in @code{bpf-ringbuf-stats}); the
consumer goes on with the next record.  Raises @code{ebpf-error} if a
consumer thread already runs on @var{rb}."
  (check-handler handler 'bpf-ringbuf-start!)
  (let ((r (ring-of rb 'bpf-ringbuf-start!)))
    (not-while-running r 'bpf-ringbuf-start!)
    (unless (or (not interval-ms) (and (exact-integer? interval-ms)
                                       (> interval-ms 0)))
      (raise-ebpf-error 'ebpf-validation-error 'bpf-ringbuf-start!
                        (format #f "bad #:interval-ms ~s" interval-ms)
                        #:fix "give a positive number of milliseconds, or #f to be woken by the kernel"))
    (let ((mode (if interval-ms 'batch 'adaptive)))
      (bpf-ringbuf-set-wakeup! (ring-map r) mode)
      (set-ring-mode! r mode))
    (atomic-box-set! (ring-stop r) #f)
    (let ((pending (take-pending! r)))
      (set-ring-thread!
       r
       (call-with-new-thread
        (lambda ()
          (deliver-reporting! r handler pending error-port)
          (consume-loop r handler interval-ms timeout-ms max error-port)))))
    (ring-map r)))

(define (bpf-ringbuf-running? rb)
  "Return @code{#t} if a consumer thread runs on ring buffer @var{rb}."
  (let ((m (map-of-kind rb 'bpf-ringbuf-running? '(ringbuf))))
    (and=> (with-mutex rings-lock (hashq-ref rings m))
           (lambda (r) (and (ring-thread r) #t)))))

(define (bpf-ringbuf-stop! rb)
  "Stop the consumer thread of ring buffer @var{rb}, after it has handed
over every record already in the ring, and return
@code{bpf-ringbuf-stats}.  The ring's wake-ups are set back to
@code{adaptive}.  Does nothing if no consumer runs."
  (let* ((m (map-of-kind rb 'bpf-ringbuf-stop! '(ringbuf)))
         (r (with-mutex rings-lock (hashq-ref rings m))))
    (when (and r (ring-thread r))
      (atomic-box-set! (ring-stop r) #t)
      (join-thread (ring-thread r))
      (set-ring-thread! r #f)
      (when (eq? (ring-mode r) 'batch)
        (bpf-ringbuf-set-wakeup! m 'adaptive))
      (set-ring-mode! r #f))
    (bpf-ringbuf-stats m)))

(define (bpf-ringbuf-fd rb)
  "Return a file descriptor that becomes readable when ring buffer
@var{rb} has records and wake-ups are on (@code{adaptive} or
@code{every}): wait on it with @code{select} (or Fibers), then call
@code{bpf-ringbuf-poll} with @code{#:timeout-ms 0}."
  (car (%bpf-ringbuf-reader-info (ring-reader (ring-of rb 'bpf-ringbuf-fd)))))

(define (bpf-ringbuf-stats rb)
  "Return an alist about ring buffer @var{rb}: @code{delivered} (records
handed to handlers), @code{dropped} (records @code{emit!} could not
write because the ring was full, summed over CPUs; @code{#f} when no
program of this process emits into it with @code{emit!}),
@code{handler-errors}, @code{pending} (taken, not yet handled),
@code{wakeup} and @code{running}."
  (let* ((r (ring-of rb 'bpf-ringbuf-stats))
         (m (ring-map r))
         (ctl (%bpf-ringbuf-control m #f)))
    `((delivered . ,(ring-delivered r))
      (dropped . ,(and ctl (bpf-map-ref/sum ctl 0)))
      (handler-errors . ,(ring-errors r))
      (pending . ,(- (vector-length (ring-pending r)) (ring-pending-at r)))
      (wakeup . ,(bpf-ringbuf-wakeup m))
      (running . ,(and (ring-thread r) #t)))))

(define (bpf-ringbuf-close! rb)
  "Stop the consumer of ring buffer @var{rb} if one runs and release this
process's reader of it; records left in the ring stay there.  Return the
last @code{bpf-ringbuf-stats}."
  (let* ((m (map-of-kind rb 'bpf-ringbuf-close! '(ringbuf)))
         (stats (bpf-ringbuf-stop! m))
         (r (with-mutex rings-lock (hashq-ref rings m))))
    (when r
      (%bpf-ringbuf-close! (ring-reader r))
      (with-mutex rings-lock (hashq-remove! rings m)))
    stats))

;;; ------------------------------------------------------------------
;;; Perf buffers.

(define-record-type <perf>
  (make-perf map reader delivered lost)
  perf?
  (map perf-map)
  (reader perf-reader)
  (delivered perf-delivered set-perf-delivered!)
  (lost perf-lost set-perf-lost!))

(define perfs (make-weak-key-hash-table))

(define (perf-of m who pages)
  (let ((obj (map-of-kind m who '(perf-event-array))))
    (with-mutex rings-lock
      (or (hashq-ref perfs obj)
          (let ((p (make-perf obj (%bpf-perf-open obj pages) 0 0)))
            (hashq-set! perfs obj p)
            p)))))

(define (report-lost map count)
  (format (current-error-port) "bpf-perf-poll: ~a: lost ~a sample~:p~%"
          (bpf-map-name map) count))

(define* (bpf-perf-poll perf handler #:key (timeout-ms 100) (pages 64)
                        (on-lost report-lost) (packet-bytes? #f))
  "Call @var{handler} on each sample waiting in the perf buffers of
perf-event-array @var{perf} (the map or its name) and return how many it
handled; when there are none, wait up to @var{timeout-ms} milliseconds
(0: do not wait; -1: for ever).  Samples are decoded as ring buffer
records are (see @code{bpf-ringbuf-poll}); samples of one CPU arrive in
order.  The first poll opens one buffer of @var{pages} pages per CPU.
With @var{packet-bytes?} true each sample is @code{(RECORD . BYTES)}:
BYTES, a bytevector, holds what follows the record, the packet bytes
@code{perf-emit!} sent with @code{#:packet-bytes} and then the kernel's
padding to 8 bytes.

Samples the kernel dropped because a buffer was full are never silent:
@code{(@var{on-lost} perf count)} is called with their number (by default
a line on the current error port), and @code{bpf-perf-stats} counts
them.  Raises @code{ebpf-validation-error} for a map of another kind."
  (check-handler handler 'bpf-perf-poll)
  (let* ((p (perf-of perf 'bpf-perf-poll pages)))
    (match (%bpf-perf-take (perf-reader p) timeout-ms packet-bytes?)
      ((samples . lost)
       (when (> lost 0)
         (set-perf-lost! p (+ (perf-lost p) lost))
         (when on-lost (on-lost (perf-map p) lost)))
       (let lp ((l samples) (n 0))
         (if (pair? l)
             (begin
               (set-perf-delivered! p (+ 1 (perf-delivered p)))
               (handler (car l))
               (lp (cdr l) (+ n 1)))
             n))))))

(define (bpf-perf-fd map)
  "Return a file descriptor that becomes readable when a perf buffer of
@var{map} has samples (for @code{select} or Fibers)."
  (vector-ref (%bpf-perf-reader-info (perf-reader (perf-of map 'bpf-perf-fd 64))) 0))

(define (bpf-perf-stats map)
  "Return an alist about perf-event-array @var{map}: @code{delivered}
(samples handed to handlers) and @code{lost} (samples the kernel dropped
because a buffer was full)."
  (let ((p (perf-of map 'bpf-perf-stats 64)))
    `((delivered . ,(perf-delivered p))
      (lost . ,(perf-lost p)))))

(define (bpf-perf-close! map)
  "Release this process's perf buffers of @var{map}."
  (let* ((obj (map-of-kind map 'bpf-perf-close! '(perf-event-array)))
         (p (with-mutex rings-lock (hashq-ref perfs obj))))
    (when p
      (%bpf-perf-close! (perf-reader p))
      (with-mutex rings-lock (hashq-remove! perfs obj)))
    (if #f #f)))

;;; ------------------------------------------------------------------
;;; The trace pipe.

(define (tracefs)
  (or (%bpf-tracefs #t)
      (raise-ebpf-error 'ebpf-error 'bpf-trace-pipe
                        "tracefs is not mounted and could not be mounted"
                        #:fix "mount it: mount -t tracefs tracefs /sys/kernel/tracing")))

(define (bpf-trace-pipe . args)
  "Copy the kernel's trace pipe, where @code{printk} writes, to a port for
a while, and return the number of lines copied.  Arguments, in any
order: @code{#:duration-ms N} (default 1000), @code{#:match STRING}
(copy only lines containing it) and the port (default: the current
output port).  Lines are copied as the kernel writes them, e.g.
@samp{guile-42 [001] ...21 812.50: bpf_trace_printk: opened 3}.  Reading
consumes them: another reader of the pipe does not see them.  Raises
@code{ebpf-error} when tracefs cannot be found or mounted."
  (let-values (((port duration pattern)
                (let loop ((l args) (port (current-output-port))
                           (duration 1000) (pattern #f))
                  (match l
                    (() (values port duration pattern))
                    ((#:duration-ms (? real? n) . rest) (loop rest port n pattern))
                    ((#:match (? string? s) . rest) (loop rest port duration s))
                    (((? output-port? p) . rest) (loop rest p duration pattern))
                    (_ (raise-ebpf-error
                        'ebpf-validation-error 'bpf-trace-pipe
                        (format #f "bad arguments ~s" args)
                        #:fix "call (bpf-trace-pipe #:duration-ms N [#:match STRING] [PORT])"))))))
    (let* ((fd (open-fdes (string-append (tracefs) "/trace_pipe")
                          (logior O_RDONLY O_NONBLOCK)))
           (in (fdes->inport fd))
           (deadline (+ (get-internal-real-time)
                        (* duration (/ internal-time-units-per-second 1000))))
           (count 0)
           (partial ""))
      (define (emit-lines! text)
        (let* ((all (string-append partial text))
               (lines (string-split all #\newline)))
          (set! partial (last lines))
          (for-each (lambda (line)
                      (when (or (not pattern) (string-contains line pattern))
                        (display line port)
                        (newline port)
                        (set! count (+ count 1))))
                    (drop-right lines 1))))
      (dynamic-wind
        (const #t)
        (lambda ()
          (let loop ()
            (let ((left (- deadline (get-internal-real-time))))
              (when (> left 0)
                (let* ((usecs (quotient (* left 1000000)
                                        internal-time-units-per-second))
                       (ready (car (select (list in) '() '()
                                           (quotient usecs 1000000)
                                           (remainder usecs 1000000)))))
                  (when (pair? ready)
                    (let ((bv (get-bytevector-some in)))
                      (unless (eof-object? bv)
                        (emit-lines! (utf8->string bv)))))
                  (loop)))))
          (force-output port)
          count)
        (lambda () (close-port in))))))
