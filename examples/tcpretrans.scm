;;; tcpretrans.scm --- TCP retransmissions, after libbpf-tools' tcpretrans.
;;;
;;; Shows: the tcp:tcp_retransmit_skb tracepoint without kprobes.  Its
;;; address fields are byte arrays at offsets their size does not divide
;;; (u8 saddr[4] at 34): (arg ctx 'saddr) fills an ipv4 field and
;;; (arg ctx 'saddr_v6) an ipv6 one as they are, in network order.  A
;;; retransmission fires in the timer, in whatever task is running, so
;;; the PID column is that task's, as the original's is.  With -c the
;;; events are counted in a hash map keyed by a struct of both ends.
;;;
;;; Output as libbpf-tools' tcpretrans:
;;;   TIME PID IP LADDR:LPORT T> RADDR:RPORT STATE, or with -c
;;;   LADDR:LPORT RADDR:RPORT RETRANSMITS
;;;
;;; Options (as the original):
;;;   -c, --count         count retransmits per address pair instead
;;;   -4, --ipv4          trace IPv4 only
;;;   -6, --ipv6          trace IPv6 only
;;;   -d, --duration S    trace for S seconds (default 3), then exit
;;;
;;; The script makes its own retransmissions: it connects to a listener
;;; of its own on 127.0.0.1 (and ::1) whose accept queue is full, so the
;;; kernel drops the SYNs and sends them again a second later.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/tcpretrans.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((count (single-char #\c))
                 (ipv4 (single-char #\4))
                 (ipv6 (single-char #\6))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: tcpretrans.scm [-c] [-4|-6] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "3")))
(define count? (option-ref options 'count #f))
(define family
  ;; getopt-long takes -4 and -6 for negative numbers: they come back
  ;; as operands.
  (let ((operands (option-ref options '() '())))
    (cond ((or (option-ref options 'ipv4 #f) (member "-4" operands)) AF_INET)
          ((or (option-ref options 'ipv6 #f) (member "-6" operands)) AF_INET6)
          (else 0))))

;;; ---- maps and program ----------------------------------------------

(defbpf-struct retrans-event
  (pid u32) (state u32) (family u16) (sport u16) (dport u16)
  (saddr ipv4) (daddr ipv4) (saddr6 ipv6) (daddr6 ipv6))
(defbpf-struct retrans-key
  (family u16) (sport u16) (dport u16)
  (saddr ipv4) (daddr ipv4) (saddr6 ipv6) (daddr6 ipv6))

(defbpf-map retrans-events #:kind 'ringbuf #:value 'retrans-event
  #:max-entries 262144)
(defbpf-map retrans-counts #:kind 'hash #:key 'retrans-key #:value 'u64
  #:max-entries 10240 #:doc "Retransmits per address pair (-c).")

(bpf-fn on-retransmit (ctx)
  (when (or (= (const targ-family) 0) (= (arg ctx 'family) (const targ-family)))
    (if (= (const count-mode) 1)
        (map-increment! retrans-counts
                        (make-retrans-key
                         #:family (arg ctx 'family)
                         #:sport (arg ctx 'sport) #:dport (arg ctx 'dport)
                         #:saddr (arg ctx 'saddr) #:daddr (arg ctx 'daddr)
                         #:saddr6 (arg ctx 'saddr_v6)
                         #:daddr6 (arg ctx 'daddr_v6)))
        (emit! retrans-events
               (make-retrans-event
                #:pid (tgid) #:state (arg ctx 'state)
                #:family (arg ctx 'family)
                #:sport (arg ctx 'sport) #:dport (arg ctx 'dport)
                #:saddr (arg ctx 'saddr) #:daddr (arg ctx 'daddr)
                #:saddr6 (arg ctx 'saddr_v6) #:daddr6 (arg ctx 'daddr_v6))))))

(defbpf-program tcpretrans
  #:kind 'tracepoint #:attach "tcp:tcp_retransmit_skb"
  #:source on-retransmit
  #:constants `((targ-family . ,family) (count-mode . ,(if count? 1 0)))
  #:license "GPL")

;;; ---- output ----------------------------------------------------------

(define tcp-states
  #("UNKNOWN" "ESTABLISHED" "SYN_SENT" "SYN_RECV" "FIN_WAIT1" "FIN_WAIT2"
    "TIME_WAIT" "CLOSE" "CLOSE_WAIT" "LAST_ACK" "LISTEN" "CLOSING"
    "NEW_SYN_RECV"))

(define (state-name s)
  (if (< s (vector-length tcp-states)) (vector-ref tcp-states s) (number->string s)))

(define (endpoint fam v4 v6 port)
  (if (= fam AF_INET6)
      (format #f "[~a]:~a" v6 port)
      (format #f "~a:~a" v4 port)))

(define (print-event e)
  (let ((fam (retrans-event-family e)))
    (format #t "~8a ~7a ~2a ~20a R> ~20a ~a~%"
            (strftime "%H:%M:%S" (localtime (current-time)))
            (retrans-event-pid e) (if (= fam AF_INET6) 6 4)
            (endpoint fam (retrans-event-saddr e) (retrans-event-saddr6 e)
                      (retrans-event-sport e))
            (endpoint fam (retrans-event-daddr e) (retrans-event-daddr6 e)
                      (retrans-event-dport e))
            (state-name (retrans-event-state e)))
    (force-output)))

(define (print-counts)
  (format #t "~%~25a ~25a ~a~%" "LADDR:LPORT" "RADDR:RPORT" "RETRANSMITS")
  (for-each
   (lambda (e)
     (let* ((k (car e)) (fam (retrans-key-family k)))
       (format #t "~25a ~25a ~a~%"
               (endpoint fam (retrans-key-saddr k) (retrans-key-saddr6 k)
                         (retrans-key-sport k))
               (endpoint fam (retrans-key-daddr k) (retrans-key-daddr6 k)
                         (retrans-key-dport k))
               (cdr e))))
   (sort (bpf-map->alist retrans-counts) (lambda (a b) (> (cdr a) (cdr b))))))

;;; ---- activity: SYNs to a listener that takes none ---------------------

(define (full-listener fam addr)
  ;; A listener with a backlog of 0 and nobody accepting: after the
  ;; first connection its queue is full, and later SYNs are dropped.
  (let ((l (socket fam SOCK_STREAM 0)))
    (bind l fam (inet-pton fam addr) 0)
    (listen l 0)
    l))

(define (connect-nowait fam addr port)
  (let ((c (socket fam SOCK_STREAM 0)))
    (fcntl c F_SETFL (logior O_NONBLOCK (fcntl c F_GETFL)))
    (catch 'system-error
      (lambda () (connect c fam (inet-pton fam addr) port))
      (const #f))                       ; EINPROGRESS
    c))

(define (make-retransmits!)
  ;; Returns the sockets to close at the end.
  (append-map
   (lambda (fam addr)
     (let* ((l (full-listener fam addr))
            (port (sockaddr:port (getsockname l))))
       (cons l (map (lambda (i) (connect-nowait fam addr port)) (iota 3)))))
   (list AF_INET AF_INET6) (list "127.0.0.1" "::1")))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(define sockets '())

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! tcpretrans)
    (if count?
        (format #t "Tracing retransmits ... Hit Ctrl-C to end~%")
        (format #t "~8a ~7a ~2a ~20a T> ~20a ~a~%"
                "TIME" "PID" "IP" "LADDR:LPORT" "RADDR:RPORT" "STATE"))
    (set! sockets (make-retransmits!))
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ()
        (when (< (get-internal-real-time) end)
          (bpf-ringbuf-poll retrans-events print-event #:timeout-ms 100)
          (loop))))
    (bpf-ringbuf-poll retrans-events print-event #:timeout-ms 0)
    (when count? (print-counts)))
  (lambda ()
    (for-each close-port sockets)
    (bpf-unload! tcpretrans)))
