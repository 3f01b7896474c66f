;;; xdp-stats.scm --- packets and bytes per XDP action, per CPU.
;;;
;;; Shows: xdp-tutorial's basic03/basic04 as a bpf-fn.  A per-CPU array
;;; keyed by the action holds a struct {packets, bytes}; the program
;;; updates the entry of the action it takes in place, through the
;;; map-get pointer (set-field!), with no lock since each CPU has its
;;; own copy.  Scheme adds the CPUs' copies up with bpf-map-ref/sum, and
;;; a second process reads the same numbers from the pinned map.
;;;
;;; The program drops UDP datagrams to the discard port (9) and passes
;;; everything else.  It first runs on packets built in Scheme
;;; (BPF_PROG_TEST_RUN), then live on a veth pair whose other end is in
;;; a network namespace of its own, with pings and datagrams sent from
;;; there; both are removed at the end.
;;;
;;; Run (as root, needs ip(8) and ping(8)):
;;;   ./pre-inst-env guile -s examples/xdp-stats.scm [--duration SECONDS]

(use-modules (ebpf) (ebpf packet) (ice-9 format) (ice-9 getopt-long)
             (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: xdp-stats.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (max 1 (string->number (option-ref options 'duration "3"))))

;;; ---- the program ----------------------------------------------------

(defbpf-struct datarec (rx-packets u64) (rx-bytes u64))

(defbpf-map xdp-stats-map
  #:kind 'per-cpu-array #:key 'u32 #:value 'datarec #:max-entries 5
  #:doc "Packets and bytes by XDP action (0 aborted .. 4 redirect).")

(bpf-fn xdp-stats (ctx)
  (let* ((udp (packet-udp ctx))
         (action (if (and udp (= (udp-dest udp) 9)) :xdp-drop :xdp-pass))
         (rec (map-get xdp-stats-map action)))
    ;; Written in the map's own memory: this CPU's copy of the entry.
    (set-field! rec 'rx-packets (+ (datarec-rx-packets rec) 1))
    (set-field! rec 'rx-bytes (+ (datarec-rx-bytes rec) (packet-length ctx)))
    (return action)))

(define actions '((xdp-drop . 1) (xdp-pass . 2)))

(define (show title)
  (for-each (lambda (a)
              (let ((r (bpf-map-ref/sum xdp-stats-map (cdr a))))
                (format #t "~a: ~8a ~a packets ~a bytes~%" title (car a)
                        (datarec-rx-packets r) (datarec-rx-bytes r))))
            actions))

(define (reset!)
  (for-each (lambda (a)
              (bpf-map-set! xdp-stats-map (cdr a)
                            (make-datarec #:rx-packets 0 #:rx-bytes 0)))
            actions))

;;; ---- on packets built in Scheme --------------------------------------

(define test-prog
  (make-bpf-program `((name . "xdp-stats-test") (kind . xdp) (attach . "lo")
                      (source . ,xdp-stats))))
(bpf-test-run test-prog (make-icmp-packet #:src "10.0.0.2" #:dst "10.0.0.1")
              #:repeat 10)
(bpf-test-run test-prog (make-udp-packet #:src "10.0.0.2" #:dst "10.0.0.1"
                                         #:sport 4000 #:dport 9
                                         #:payload "discard me")
              #:repeat 5)
(show "test run")
(bpf-unload! test-prog)

;;; ---- live, on a veth pair ---------------------------------------------

(define tag (number->string (modulo (getpid) 100000)))
(define netns (string-append "gebpf-st" tag))
(define host-if (string-append "st" tag "h"))
(define peer-if (string-append "st" tag "p"))
(define pin (string-append "/sys/fs/bpf/gebpf-xdp-stats-" tag))

(define (run! . args)
  (unless (zero? (status:exit-val (apply system* args)))
    (error "command failed:" (string-join args " "))))
(define (quietly . args)
  (system (string-append (string-join args " ") " >/dev/null 2>&1")))

(define live-prog
  (make-bpf-program `((name . "xdp-stats") (kind . xdp)
                      (attach . (#:target ,host-if #:mode auto))
                      (source . ,xdp-stats))))
(define attached? #f)

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (run! "ip" "netns" "add" netns)
    (run! "ip" "link" "add" host-if "type" "veth" "peer" "name" peer-if)
    (run! "ip" "link" "set" peer-if "netns" netns)
    (run! "ip" "addr" "add" "10.216.0.1/24" "dev" host-if)
    (run! "ip" "link" "set" host-if "up")
    (run! "ip" "netns" "exec" netns "ip" "addr" "add" "10.216.0.2/24" "dev" peer-if)
    (run! "ip" "netns" "exec" netns "ip" "link" "set" peer-if "up")
    (bpf-attach! live-prog)
    (set! attached? #t)
    (reset!)
    (let ((count (number->string (max 2 (* 3 duration)))))
      (format #t "live: ~a pings and ~a datagrams to the discard port from ~a~%"
              count count netns)
      (quietly "ip netns exec" netns "ping -n -q -c" count "-i 0.2 -W 1 10.216.0.1")
      (quietly "ip netns exec" netns "bash -c 'for i in $(seq" count
               "); do echo x > /dev/udp/10.216.0.1/9; done'"))
    (show "live")
    ;; basic04: another process reads the pinned map.
    (bpf-map-pin! xdp-stats-map pin)
    (force-output)
    (system* "guile" "--no-auto-compile" "-c"
             (format #f "(use-modules (ebpf))
(define m (bpf-map-open-pinned ~s))
(format #t \"another process: xdp-drop entry ~~a~~%\"
        (bpf-map-ref/sum m 1))" pin))
    (bpf-map-unpin! xdp-stats-map))
  (lambda ()
    (when attached? (bpf-unload! live-prog))
    (false-if-exception (delete-file pin))
    (quietly "ip netns del" netns)
    (quietly "ip link del" host-if)
    (format #t "detached; test network removed~%")))
