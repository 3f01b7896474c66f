;;; (ebpf metrics) --- Prometheus metrics of the programs and maps in use.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; bpf-metrics renders, in Prometheus's text exposition format, the
;;; kernel's run count and run time of every loaded program declared in
;;; this process, the entry count of every declared map, and the counts
;;; of the ring buffers read here; each series is labelled with the
;;; program or map, its kind, the interface it is attached to and the
;;; policy that lists it, where these are known.  bpf-serve-metrics
;;; serves that text with Guile's (web server) on 127.0.0.1, from a
;;; thread, until bpf-stop-metrics!.

(define-module (ebpf metrics)
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module (ebpf deploy)
  #:use-module ((ebpf program) #:select (bpf-programs bpf-enable-stats!))
  #:use-module (ebpf events)
  #:use-module ((ebpf policy) #:select (bpf-policy-names bpf-policy-lookup
                                        bpf-policy-programs bpf-policy-maps))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (srfi srfi-11)
  #:use-module ((srfi srfi-9 gnu) #:select (set-record-type-printer!))
  #:use-module (ice-9 atomic)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (ice-9 threads)
  #:autoload (web server) (lookup-server-impl open-server close-server
                           serve-one-client)
  #:autoload (web response) (build-response)
  #:autoload (web request) (request-uri)
  #:autoload (web uri) (uri-path)
  #:export (bpf-metrics
            bpf-serve-metrics
            bpf-metrics-server?
            bpf-metrics-server-port
            bpf-stop-metrics!))

;;; ------------------------------------------------------------------
;;; What each program and map belongs to.

(define (policy-index)
  ;; Two hash tables: program name -> policy name, map name -> policy name.
  (let ((programs (make-hash-table))
        (maps (make-hash-table)))
    (for-each (lambda (pn)
                (let ((p (false-if-exception (bpf-policy-lookup pn))))
                  (when p
                    (for-each (lambda (n) (hash-set! programs (canon n) pn))
                              (or (false-if-exception (bpf-policy-programs p)) '()))
                    (for-each (lambda (n) (hash-set! maps (canon n) pn))
                              (or (false-if-exception (bpf-policy-maps p)) '())))))
              (or (false-if-exception (bpf-policy-names)) '()))
    (values programs maps)))

(define (canon name)
  ;; - and _ are one character in names.
  (string-map (lambda (c) (if (char=? c #\_) #\- c))
              (if (symbol? name) (symbol->string name) name)))

;;; ------------------------------------------------------------------
;;; The text exposition format.

(define (escape-label v)
  (let ((s (if (string? v) v (format #f "~a" v))))
    (string-concatenate
     (map (lambda (c)
            (case c
              ((#\\) "\\\\")
              ((#\") "\\\"")
              ((#\newline) "\\n")
              (else (string c))))
          (string->list s)))))

(define (labels->string labels)
  ;; Labels with a value of #f are unknown and left out.
  (let ((known (filter cdr labels)))
    (if (null? known)
        ""
        (string-append
         "{"
         (string-join (map (match-lambda
                             ((k . v) (format #f "~a=\"~a\"" k (escape-label v))))
                           known)
                      ",")
         "}"))))

(define (number->text x)
  ;; Integers exactly; other numbers as Guile's shortest round-trip
  ;; text (1.5e-6), which Prometheus parses.
  (cond ((exact-integer? x) (number->string x))
        ((exact? x) (number->string (exact->inexact x)))
        (else (number->string x))))

(define (write-family port name type help samples)
  ;; SAMPLES: ((labels . value) ...); a family with none is left out.
  (unless (null? samples)
    (format port "# HELP ~a ~a~%# TYPE ~a ~a~%" name help name type)
    (for-each (match-lambda
                ((labels . value)
                 (format port "~a~a ~a~%" name (labels->string labels)
                         (number->text value))))
              samples)))

;;; ------------------------------------------------------------------
;;; Samples.

(define (internal-map? name)
  ;; The maps guile-ebpf declares for itself (dispatcher slots, ring
  ;; buffer control maps).
  (string-prefix? "gebpf-" name))

(define (program-samples prog-policy)
  ;; ((labels run-count run-time-ns) ...) of the loaded declared programs.
  (filter-map
   (lambda (name)
     (let ((p (bpf-program-lookup name)))
       (and p (bpf-program-loaded? p)
            (let ((stats (false-if-exception (bpf-program-stats p)))
                  (kind (bpf-program-kind p)))
              (and stats
                   (list `((program . ,name)
                           (kind . ,kind)
                           (interface . ,(and (memq kind '(xdp tc))
                                              (bpf-program-target p)))
                           (policy . ,(hash-ref prog-policy (canon name))))
                         (or (assq-ref stats 'run-count) 0)
                         (or (assq-ref stats 'run-time-ns) 0)))))))
   (bpf-program-names)))

(define (kernel-program-samples)
  (map (lambda (al)
         (list `((id . ,(assq-ref al 'id))
                 (program . ,(assq-ref al 'name))
                 (kind . ,(assq-ref al 'kind)))
               (or (assq-ref al 'run-count) 0)
               (or (assq-ref al 'run-time-ns) 0)))
       (or (false-if-exception (bpf-programs)) '())))

(define uncountable
  '(ringbuf perf-event-array queue stack bloom-filter))

(define (map-samples map-policy)
  ;; ((labels . entries) ...) of the declared maps; a map not created
  ;; yet has no entries (and is not created for this).
  (filter-map
   (lambda (name)
     (let ((m (bpf-map-lookup name)))
       (and m (not (internal-map? name))
            (not (memq (bpf-map-kind m) uncountable))
            (let ((n (if (bpf-map-fd m)
                         (false-if-exception (bpf-map-count m))
                         0)))
              (and n
                   (cons `((map . ,name)
                           (kind . ,(bpf-map-kind m))
                           (policy . ,(hash-ref map-policy (canon name))))
                         n))))))
   (bpf-map-names)))

(define (ring-samples map-policy)
  ;; ((labels delivered dropped) ...) of the ring buffers read here.
  (filter-map
   (lambda (name)
     (let ((stats (false-if-exception (bpf-ringbuf-stats name))))
       (and stats
            (list `((map . ,name)
                    (policy . ,(hash-ref map-policy (canon name))))
                  (assq-ref stats 'delivered)
                  (assq-ref stats 'dropped)))))
   (bpf-ringbuf-names)))

(define* (bpf-metrics #:key all-programs?)
  "Return the metrics of this process's BPF programs and maps as
Prometheus text (exposition format 0.0.4):

@itemize
@item @code{guile_ebpf_program_runs_total} and
@code{guile_ebpf_program_run_seconds_total}: the kernel's run count and
run time of every loaded program declared here (counted while the
kernel's BPF statistics are on, which loading a program turns on),
labelled @code{program}, @code{kind}, and where known @code{interface}
(XDP and tc programs) and @code{policy} (a @code{defbpf-policy} that
lists the program);
@item @code{guile_ebpf_map_entries}: the entry count of every declared
map (an array's is its size), labelled @code{map}, @code{kind} and
where known @code{policy};
@item @code{guile_ebpf_ringbuf_delivered_total} and
@code{guile_ebpf_ringbuf_dropped_total} for the ring buffers read in
this process.
@end itemize

With @var{all-programs?}, every program the kernel holds is included as
well, in @code{guile_ebpf_kernel_program_runs_total} and
@code{guile_ebpf_kernel_program_run_seconds_total}, labelled @code{id},
@code{program} and @code{kind}."
  (let-values (((prog-policy map-policy) (policy-index)))
    (call-with-output-string
      (lambda (port)
        (let ((progs (program-samples prog-policy)))
          (write-family port "guile_ebpf_program_runs_total" "counter"
                        "Times the program ran."
                        (map (match-lambda ((l c t) (cons l c))) progs))
          (write-family port "guile_ebpf_program_run_seconds_total" "counter"
                        "Time the program spent running, in seconds."
                        (map (match-lambda ((l c t) (cons l (/ t 1000000000))))
                             progs)))
        (write-family port "guile_ebpf_map_entries" "gauge"
                      "Entries in the map (an array's size)."
                      (map-samples map-policy))
        (let ((rings (ring-samples map-policy)))
          (write-family port "guile_ebpf_ringbuf_delivered_total" "counter"
                        "Ring buffer records handed to a handler."
                        (map (match-lambda ((l d x) (cons l d))) rings))
          (write-family port "guile_ebpf_ringbuf_dropped_total" "counter"
                        "Ring buffer records emit! dropped because the ring was full."
                        (filter-map (match-lambda ((l d x) (and x (cons l x))))
                                    rings)))
        (when all-programs?
          (let ((progs (kernel-program-samples)))
            (write-family port "guile_ebpf_kernel_program_runs_total" "counter"
                          "Times the program ran (every program of the kernel)."
                          (map (match-lambda ((l c t) (cons l c))) progs))
            (write-family port "guile_ebpf_kernel_program_run_seconds_total"
                          "counter"
                          "Time the program spent running, in seconds (every program of the kernel)."
                          (map (match-lambda ((l c t) (cons l (/ t 1000000000))))
                               progs))))))))

;;; ------------------------------------------------------------------
;;; Serving.

(define-record-type <metrics-server>
  (make-metrics-server port thread stop)
  bpf-metrics-server?
  (port bpf-metrics-server-port)
  (thread server-thread set-server-thread!)
  (stop server-stop))

(set-record-type-printer!
 <metrics-server>
 (lambda (s port)
   (format port "#<bpf-metrics-server http://127.0.0.1:~a/metrics~a>"
           (bpf-metrics-server-port s)
           (if (server-thread s) "" " stopped"))))

(define (metrics-handler path all-programs?)
  (lambda (request body)
    (if (equal? (uri-path (request-uri request)) path)
        (values (build-response
                 #:code 200
                 #:headers '((content-type
                              . (text/plain (version . "0.0.4")
                                            (charset . "utf-8")))))
                (catch #t
                  (lambda () (bpf-metrics #:all-programs? all-programs?))
                  (lambda (key . args)
                    (format #f "# error: ~a~%"
                            (or (false-if-exception (ebpf-error-message args))
                                key)))))
        (values (build-response #:code 404
                                #:headers '((content-type . (text/plain))))
                (format #f "Metrics are at ~a~%" path)))))

(define* (bpf-serve-metrics #:key (port 9435) (path "/metrics")
                            all-programs?)
  "Serve @code{(bpf-metrics)} over HTTP at
@samp{http://127.0.0.1:@var{port}@var{path}} from a new thread, and
return a server object (@code{bpf-metrics-server-port} gives the port;
with @var{port} 0 the kernel chooses one).  Only the loopback interface
listens.  Every request renders the metrics afresh.  Stop it with
@code{bpf-stop-metrics!}.  Turns the kernel's run statistics on
(@code{bpf-enable-stats!}).  Raises @code{ebpf-error} when the port cannot
be bound."
  ;; A metrics endpoint is a standing request for run statistics.
  (bpf-enable-stats!)
  (unless (and (exact-integer? port) (<= 0 port 65535))
    (raise-ebpf-error 'ebpf-validation-error 'bpf-serve-metrics
                      (format #f "bad port ~s: it must be between 0 and 65535" port)
                      #:fix "give #:port as an integer 0..65535 (0: any free port)"))
  (let ((sock (socket PF_INET SOCK_STREAM 0)))
    (setsockopt sock SOL_SOCKET SO_REUSEADDR 1)
    (catch 'system-error
      (lambda () (bind sock AF_INET INADDR_LOOPBACK port))
      (lambda (key . args)
        (close-port sock)
        (raise-ebpf-error 'ebpf-error 'bpf-serve-metrics
                          (format #f "cannot listen on 127.0.0.1:~a: ~a" port
                                  (strerror (system-error-errno (cons key args))))
                          #:fix "choose another #:port, or stop what listens there")))
    (let* ((actual (sockaddr:port (getsockname sock)))
           (impl (lookup-server-impl 'http))
           (server (open-server impl (list #:socket sock)))
           (stop (make-atomic-box #f))
           (handler (metrics-handler path all-programs?))
           (s (make-metrics-server actual #f stop)))
      (set-server-thread!
       s
       (call-with-new-thread
        (lambda ()
          (let lp ((state '()))
            (unless (atomic-box-ref stop)
              (lp (serve-one-client handler impl server state))))
          (close-server impl server))))
      s)))

(define (wake-up port)
  ;; One request, so the server thread returns from its wait.
  (false-if-exception
   (let ((s (socket PF_INET SOCK_STREAM 0)))
     (connect s AF_INET INADDR_LOOPBACK port)
     (display "GET / HTTP/1.0\r\n\r\n" s)
     (force-output s)
     (let drain ()
       (unless (eof-object? (read-char s))
         (drain)))
     (close-port s))))

(define (bpf-stop-metrics! server)
  "Stop the metrics server @var{server} (from @code{bpf-serve-metrics})
and close its socket.  Idempotent."
  (unless (bpf-metrics-server? server)
    (raise-ebpf-error 'ebpf-validation-error 'bpf-stop-metrics!
                      (format #f "~s is not a metrics server" server)
                      #:fix "give the object bpf-serve-metrics returned"))
  (let ((t (server-thread server)))
    (when t
      (atomic-box-set! (server-stop server) #t)
      (wake-up (bpf-metrics-server-port server))
      (join-thread t)
      (set-server-thread! server #f)))
  (if #f #f))
