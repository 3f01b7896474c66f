;;; xdp-firewall.scm --- an XDP firewall with a live blocklist.
;;;
;;; Shows: an XDP program written as a bpf-fn that looks up each IPv4
;;; source address in a longest-prefix-match trie ((prefix ipv4) keys),
;;; per-verdict per-CPU counters, a per-source drop table, and a live
;;; update of the blocklist from Scheme while the program runs: the
;;; moment the new prefix is in the map, packets from it are dropped.
;;;
;;; The script builds its own test network and removes it at the end:
;;; a network namespace holding one end of a veth pair with the
;;; addresses 10.213.0.2 and 10.213.0.130, the other end in this
;;; namespace with 10.213.0.1.  Traffic is ping from the namespace to
;;; 10.213.0.1, so the firewall sees it arrive on the host-side veth.
;;;
;;; Run (as root, needs ip(8) and ping(8)):
;;;   ./pre-inst-env guile -s examples/xdp-firewall.scm [--duration SECONDS]
;;; It runs three phases of about SECONDS/3 each (default 6 seconds in
;;; all, at least 3) and exits by itself: pings from both addresses with
;;; the first blocklist, again after a prefix is added live, and again
;;; after one is removed.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 popen)
             (ice-9 rdelim) (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: xdp-firewall.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (max 3 (string->number (option-ref options 'duration "6"))))

;;; ---- the test network ---------------------------------------------

(define tag (number->string (modulo (getpid) 100000)))
(define netns (string-append "gebpf-fw" tag))
(define host-if (string-append "fw" tag "h"))
(define peer-if (string-append "fw" tag "p"))
(define host-addr "10.213.0.1")
(define good-src "10.213.0.2")          ; allowed at first
(define bad-src "10.213.0.130")         ; in a blocked /25 from the start

(define (run! . args)
  (unless (zero? (status:exit-val (apply system* args)))
    (error "command failed:" (string-join args " "))))
(define (quietly . args)
  (system (string-append (string-join args " ") " >/dev/null 2>&1")))

(define (network-up!)
  (quietly "ip netns del" netns)
  (run! "ip" "netns" "add" netns)
  (run! "ip" "link" "add" host-if "type" "veth" "peer" "name" peer-if)
  (run! "ip" "link" "set" peer-if "netns" netns)
  (run! "ip" "addr" "add" (string-append host-addr "/24") "dev" host-if)
  (run! "ip" "link" "set" host-if "up")
  (run! "ip" "netns" "exec" netns "ip" "addr" "add" (string-append good-src "/24")
        "dev" peer-if)
  (run! "ip" "netns" "exec" netns "ip" "addr" "add" (string-append bad-src "/24")
        "dev" peer-if)
  (run! "ip" "netns" "exec" netns "ip" "link" "set" peer-if "up")
  (run! "ip" "netns" "exec" netns "ip" "link" "set" "lo" "up"))

(define (network-down!)
  (quietly "ip netns del" netns)
  (quietly "ip link del" host-if))

(define (start-ping src count)
  ;; Start pinging the host from SRC inside the namespace.
  (open-pipe* OPEN_READ "ip" "netns" "exec" netns "ping" "-n" "-q"
              "-c" (number->string count) "-i" "0.2" "-W" "1"
              "-I" src host-addr))

(define (ping-replies port)
  ;; Wait for the ping on PORT to end; return how many replies it got.
  (let* ((text (let loop ((acc '()))
                 (let ((l (read-line port)))
                   (if (eof-object? l) (string-join (reverse acc) "\n")
                       (loop (cons l acc))))))
         (i (string-contains text " received")))
    (close-pipe port)
    (if i
        (or (string->number
             (substring text (+ 1 (string-rindex text #\space 0 i)) i))
            0)
        0)))

;;; ---- maps and the program -----------------------------------------

(defbpf-map blocklist
  #:kind 'lpm-trie #:key '(prefix ipv4) #:value 'u32 #:max-entries 1024
  #:flags '(no-prealloc)
  #:doc "Blocked IPv4 networks and a reason code.")

(defbpf-map verdicts
  #:kind 'per-cpu-array #:key 'u32 #:value 'u64 #:max-entries 2
  #:doc "Packets passed (0) and dropped (1).")

(defbpf-map dropped-from
  #:kind 'lru-hash #:key 'ipv4 #:value 'u64 #:max-entries 4096
  #:doc "Dropped packets by source address.")

(define PASS 0)
(define DROP 1)

(bpf-fn firewall (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (when (and ip (map-get blocklist (ipv4-saddr ip)))
      (map-increment! verdicts ,DROP)
      (map-increment! dropped-from (ipv4-saddr ip))
      (return :xdp-drop))
    (map-increment! verdicts ,PASS)
    (return :xdp-pass)))

(define (counters)
  (cons (bpf-map-ref/sum verdicts PASS) (bpf-map-ref/sum verdicts DROP)))

(define (show-blocklist)
  (format #t "blocklist:~%")
  (for-each (lambda (e) (format #t "  ~18a reason ~a~%" (car e) (cdr e)))
            (sort (bpf-map->alist blocklist)
                  (lambda (a b) (string<? (car a) (car b))))))

(define (phase title count)
  ;; Ping from both namespace addresses at once; print the replies and
  ;; the counters, and return the counters.
  (format #t "~%-- ~a~%" title)
  (let ((pings (map (lambda (src) (cons src (start-ping src count)))
                    (list good-src bad-src))))
    (for-each (lambda (p)
                (format #t "ping from ~13a: ~a/~a replies~%"
                        (car p) (ping-replies (cdr p)) count))
              pings))
  (let ((c (counters)))
    (format #t "counters: pass ~a drop ~a~%" (car c) (cdr c))
    c))

;;; ---- run ----------------------------------------------------------

(defbpf-program xdp-firewall
  #:kind 'xdp
  #:attach `(#:target ,host-if #:mode auto)
  #:source firewall
  #:license "GPL")

(define attached? #f)

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))
(sigaction SIGTERM (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (network-up!)
    (bpf-map-set-all! blocklist '(("192.0.2.0/24" . 1) ("10.213.0.128/25" . 2)))
    (bpf-attach! xdp-firewall)
    (set! attached? #t)
    (format #t "XDP firewall attached to ~a (test network 10.213.0.0/24 in namespace ~a)~%"
            host-if netns)
    (show-blocklist)
    (let* ((per-phase (max 2 (inexact->exact (floor (* 5 (- (/ duration 3) 1))))))
           (before (phase "phase 1: initial blocklist" per-phase)))
      (format #t "~%live update: blocking 10.213.0.0/28 (reason 3) while attached~%")
      (bpf-map-set! blocklist "10.213.0.0/28" 3)
      (show-blocklist)
      (let ((after (phase "phase 2: after the live update" per-phase)))
        (format #t "~%live update: unblocking 10.213.0.128/25~%")
        (bpf-map-delete! blocklist "10.213.0.128/25")
        (phase "phase 3: after removing a prefix" per-phase)
        (format #t "~%dropped packets by source:~%")
        (for-each (lambda (e) (format #t "  @[~a]: ~a~%" (car e) (cdr e)))
                  (sort (bpf-map->alist dropped-from)
                        (lambda (a b) (string<? (car a) (car b)))))
        (format #t "~%drop counter: ~a before the live update, ~a after it~%"
                (cdr before) (cdr after)))))
  (lambda ()
    (when attached? (bpf-unload! xdp-firewall))
    (network-down!)
    (format #t "detached; test network removed~%")))
