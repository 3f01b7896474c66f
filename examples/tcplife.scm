;;; tcplife.scm --- TCP connections as they close, with their duration and
;;; bytes, after libbpf-tools' tcplife.
;;;
;;; Shows: the sock:inet_sock_set_state tracepoint, which names the
;;; socket by its kernel address (skaddr, a const void *): the time each
;;; socket was born and the process that opened it are kept in hash maps
;;; keyed by it, and when it closes, (core-cast skaddr 'tcp_sock) lets
;;; core-read take its byte counters (bytes_received, bytes_acked), as
;;; the C tool's (struct tcp_sock *) cast does.  The tracepoint's address
;;; arrays (u8 saddr[4], u8 saddr_v6[16]) fill ipv4 and ipv6 fields as
;;; they are, so IPv4 and IPv6 connections print with no byte swapping.
;;;
;;; Output as libbpf-tools' tcplife: PID COMM LADDR LPORT RADDR RPORT
;;; TX_KB RX_KB MS.
;;;
;;; Options (as the original):
;;;   -p, --pid PID       trace this process only
;;;   -4, --ipv4          IPv4 connections only
;;;   -6, --ipv6          IPv6 connections only
;;;   -L, --localport P   this local port only
;;;   -D, --remoteport P  this remote port only
;;;   -d, --duration S    trace for S seconds (default 2), then exit
;;;
;;; The script connects to itself over 127.0.0.1 and ::1, sends 3000
;;; bytes and answers 2048, and closes both ends.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/tcplife.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (rnrs bytevectors))

(define options
  ;; getopt-long takes letters only as short options: -4 and -6 are
  ;; spelled out first.
  (getopt-long (map (lambda (a)
                      (cond ((equal? a "-4") "--ipv4")
                            ((equal? a "-6") "--ipv6")
                            (else a)))
                    (command-line))
               '((pid (single-char #\p) (value #t))
                 (ipv4)
                 (ipv6)
                 (localport (single-char #\L) (value #t))
                 (remoteport (single-char #\D) (value #t))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: tcplife.scm [-p PID] [-4|-6] [-L PORT] [-D PORT] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

;;; ---- maps and program ---------------------------------------------

(defbpf-struct ident (pid u32) (comm (string 16)))
(defbpf-struct life-event
  (span-us u64) (rx-b u64) (tx-b u64) (pid u32) (family u16)
  (lport u16) (dport u16) (saddr ipv4) (daddr ipv4)
  (saddr6 ipv6) (daddr6 ipv6) (comm (string 16)))

(defbpf-map birth #:kind 'hash #:key 'u64 #:value 'u64 #:max-entries 10240
  #:doc "When each socket was born, ns.")
(defbpf-map idents #:kind 'hash #:key 'u64 #:value 'ident #:max-entries 10240
  #:doc "The process that opened each socket.")
(defbpf-map life-events #:kind 'ringbuf #:value 'life-event
  #:max-entries 262144)

(define AF_INET* 2)
(define AF_INET6* 10)
(define TCP_SYN_SENT 2)
(define TCP_FIN_WAIT1 4)
(define TCP_CLOSE 7)
(define TCP_LAST_ACK 9)

(bpf-fn on-state (ctx)
  (let ((sk (arg ctx 'skaddr))
        (new (arg ctx 'newstate))
        (family (arg ctx 'family)))
    (when (and (= (arg ctx 'protocol) :tcp)
               (or (= (const targ-family) 0) (= family (const targ-family)))
               (or (= (const targ-sport) 0) (= (arg ctx 'sport) (const targ-sport)))
               (or (= (const targ-dport) 0) (= (arg ctx 'dport) (const targ-dport))))
      ;; Born: the first change before the close starts.
      (when (and (< new ,TCP_FIN_WAIT1) (not (map-get birth sk)))
        (map-set! birth sk (ktime-ns)))
      ;; The process: whoever connects, or closes a passive socket.
      (when (or (= new ,TCP_SYN_SENT) (= new ,TCP_LAST_ACK))
        (map-set! idents sk (make-ident #:pid (tgid) #:comm (comm))))
      (when (= new ,TCP_CLOSE)
        (let ((born (map-get birth sk))
              (who (map-get idents sk))
              (tp (core-cast sk 'tcp_sock)))
          (when (and born
                     (or (= (const targ-pid) 0)
                         (= (if who (ident-pid who) (tgid)) (const targ-pid))))
            (emit! life-events
                   (make-life-event
                    #:span-us (/ (- (ktime-ns) born) 1000)
                    #:rx-b (core-read tp 'bytes_received)
                    #:tx-b (core-read tp 'bytes_acked)
                    #:pid (if who (ident-pid who) (tgid))
                    #:comm (if who (ident-comm who) (comm))
                    #:family family
                    #:lport (arg ctx 'sport) #:dport (arg ctx 'dport)
                    #:saddr (arg ctx 'saddr) #:daddr (arg ctx 'daddr)
                    #:saddr6 (arg ctx 'saddr_v6) #:daddr6 (arg ctx 'daddr_v6)))))
        (map-delete! birth sk)
        (map-delete! idents sk)))))

(defbpf-program tcplife
  #:kind 'tracepoint
  #:attach "sock:inet_sock_set_state"
  #:source on-state
  #:constants `((targ-pid . ,(string->number (option-ref options 'pid "0")))
                (targ-family . ,(cond ((option-ref options 'ipv4 #f) AF_INET*)
                                      ((option-ref options 'ipv6 #f) AF_INET6*)
                                      (else 0)))
                (targ-sport . ,(string->number (option-ref options 'localport "0")))
                (targ-dport . ,(string->number (option-ref options 'remoteport "0"))))
  #:license "GPL")

;;; ---- output -------------------------------------------------------

(define (print-event e)
  (let ((v6? (= (life-event-family e) AF_INET6*)))
    (format #t "~7a ~16a ~15a ~5a ~15a ~5a ~6a ~6a ~,2f~%"
            (life-event-pid e) (life-event-comm e)
            (if v6? (life-event-saddr6 e) (life-event-saddr e))
            (life-event-lport e)
            (if v6? (life-event-daddr6 e) (life-event-daddr e))
            (life-event-dport e)
            (quotient (life-event-tx-b e) 1024)
            (quotient (life-event-rx-b e) 1024)
            (/ (life-event-span-us e) 1000.0)))
  (force-output))

;;; ---- activity: TCP connections to ourselves ------------------------

(define (one-connection! family addr)
  ;; Listen, connect, send 3000 bytes, answer 2048, close both ends.
  (let ((listener (socket family SOCK_STREAM 0))
        (client (socket family SOCK_STREAM 0))
        (where (inet-pton family addr)))
    (setsockopt listener SOL_SOCKET SO_REUSEADDR 1)
    (bind listener family where 0)
    (listen listener 1)
    (connect client family where (sockaddr:port (getsockname listener)))
    (let ((server (car (accept listener)))
          (buf (make-bytevector 4096)))
      (send client (make-bytevector 3000 65))
      (let loop ((got 0))
        (when (< got 3000) (loop (+ got (recv! server buf)))))
      (send server (make-bytevector 2048 66))
      (let loop ((got 0))
        (when (< got 2048) (loop (+ got (recv! client buf)))))
      (close-port client)
      (usleep 10000)
      (close-port server))
    (close-port listener)))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! tcplife)
    (format #t "~7a ~16a ~15a ~5a ~15a ~5a ~6a ~6a ~a~%"
            "PID" "COMM" "LADDR" "LPORT" "RADDR" "RPORT" "TX_KB" "RX_KB" "MS")
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (when (zero? (modulo i 10))
            (one-connection! AF_INET "127.0.0.1")
            (one-connection! AF_INET6 "::1"))
          (bpf-ringbuf-poll life-events print-event #:timeout-ms 100)
          (loop (+ i 1)))))
    (bpf-ringbuf-poll life-events print-event #:timeout-ms 100))
  (lambda ()
    (bpf-unload! tcplife)))
