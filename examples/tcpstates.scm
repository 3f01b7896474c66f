;;; tcpstates.scm --- TCP state changes, after libbpf-tools' tcpstates.
;;;
;;; Shows: the sock:inet_sock_set_state tracepoint, its fields read by
;;; name -- the address arrays (u8 saddr[4], u8 saddr_v6[16]) fill ipv4
;;; and ipv6 fields as they are -- the time of each socket's last change kept in
;;; a hash map keyed by the socket's kernel address, filters set before
;;; load through #:constants, and events through a ring buffer decoded
;;; into a defbpf-struct record.
;;;
;;; Output as libbpf-tools' tcpstates: SKADDR PID COMM LADDR LPORT RADDR
;;; RPORT OLDSTATE -> NEWSTATE MS, where MS is the time spent in the old
;;; state.  IPv4 and IPv6 connections.
;;;
;;; Options (as the original):
;;;   -T, --timestamp       include a timestamp column
;;;   -L, --sport PORTS     trace these local ports only (comma separated)
;;;   -D, --dport PORTS     trace these remote ports only (comma separated)
;;;   -d, --duration S      trace for S seconds (default 2), then exit
;;;
;;; The script listens on 127.0.0.1 and ::1 and connects to itself a few
;;; times (connect, send, close on both sides), so every state of a TCP
;;; connection shows up.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/tcpstates.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (rnrs bytevectors))

(define options
  (getopt-long (command-line)
               '((timestamp (single-char #\T))
                 (sport (single-char #\L) (value #t))
                 (dport (single-char #\D) (value #t))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: tcpstates.scm [-T] [-L SPORTS] [-D DPORTS] [-d SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

(define (ports name)
  (map string->number
       (let ((v (option-ref options name #f)))
         (if v (string-split v #\,) '()))))

;;; ---- maps and program ---------------------------------------------

(defbpf-struct tcp-event
  (skaddr u64) (delta-us u64) (pid u32) (oldstate u32) (newstate u32)
  (saddr ipv4) (daddr ipv4) (saddr6 ipv6) (daddr6 ipv6) (family u16)
  (sport u16) (dport u16) (comm (string 16)))

(defbpf-map changed #:kind 'hash #:key 'u64 #:value 'u64 #:max-entries 10240
  #:doc "When each socket last changed state, ns.")
(defbpf-map sports #:kind 'hash #:key 'u16 #:value 'u16 #:max-entries 64)
(defbpf-map dports #:kind 'hash #:key 'u16 #:value 'u16 #:max-entries 64)
(defbpf-map tcp-events #:kind 'ringbuf #:value 'tcp-event #:max-entries 262144)

(define TCP_CLOSE 7)

(bpf-fn on-state (ctx)
  (when (and (= (arg ctx 'protocol) :tcp)
             (or (= (const filter-sport) 0) (map-get sports (arg ctx 'sport)))
             (or (= (const filter-dport) 0) (map-get dports (arg ctx 'dport))))
    (let ((sk (arg ctx 'skaddr))
          (now (ktime-ns)))
      (emit! tcp-events
             (make-tcp-event
              #:skaddr sk
              #:delta-us (if (map-get changed sk)
                             (/ (- now (map-ref changed sk)) 1000)
                             0)
              #:pid (tgid) #:comm (comm)
              #:oldstate (arg ctx 'oldstate) #:newstate (arg ctx 'newstate)
              #:family (arg ctx 'family)
              #:saddr (arg ctx 'saddr) #:daddr (arg ctx 'daddr)
              #:saddr6 (arg ctx 'saddr_v6) #:daddr6 (arg ctx 'daddr_v6)
              #:sport (arg ctx 'sport) #:dport (arg ctx 'dport)))
      (if (= (arg ctx 'newstate) ,TCP_CLOSE)
          (map-delete! changed sk)
          (map-set! changed sk now)))))

(defbpf-program tcpstates
  #:kind 'tracepoint
  #:attach "sock:inet_sock_set_state"
  #:source on-state
  #:constants `((filter-sport . ,(if (null? (ports 'sport)) 0 1))
                (filter-dport . ,(if (null? (ports 'dport)) 0 1)))
  #:license "GPL")

;;; ---- output -------------------------------------------------------

(define state-names
  #("UNKNOWN" "ESTABLISHED" "SYN_SENT" "SYN_RECV" "FIN_WAIT1" "FIN_WAIT2"
    "TIME_WAIT" "CLOSE" "CLOSE_WAIT" "LAST_ACK" "LISTEN" "CLOSING"
    "NEW_SYN_RECV"))
(define (state-name n)
  (if (< n (vector-length state-names)) (vector-ref state-names n) (number->string n)))

(define (print-event e)
  (when (option-ref options 'timestamp #f)
    (format #t "~8a " (strftime "%H:%M:%S" (localtime (current-time)))))
  (format #t "~16,'0x ~7a ~10a ~15a ~5a ~15a ~5a ~11a -> ~11a ~,3f~%"
          (tcp-event-skaddr e) (tcp-event-pid e)
          (let ((c (tcp-event-comm e))) (if (> (string-length c) 10) (substring c 0 10) c))
          (if (= (tcp-event-family e) 10) (tcp-event-saddr6 e) (tcp-event-saddr e))
          (tcp-event-sport e)
          (if (= (tcp-event-family e) 10) (tcp-event-daddr6 e) (tcp-event-daddr e))
          (tcp-event-dport e)
          (state-name (tcp-event-oldstate e)) (state-name (tcp-event-newstate e))
          (/ (tcp-event-delta-us e) 1000.0))
  (force-output))

;;; ---- activity: TCP connections to ourselves ------------------------

(define listeners '())                  ; ((FAMILY ADDRESS PORT . SOCKET) ...)

(define (listen! family addr)
  (let ((l (socket family SOCK_STREAM 0)))
    (setsockopt l SOL_SOCKET SO_REUSEADDR 1)
    (bind l family (inet-pton family addr) 0)
    (listen l 8)
    (set! listeners (cons (cons* family addr (sockaddr:port (getsockname l)) l)
                          listeners))))

(define (one-connection! listener)
  ;; Connect, say hello, close the client, then the server side.
  (let* ((family (car listener))
         (client (socket family SOCK_STREAM 0)))
    (connect client family (inet-pton family (cadr listener)) (caddr listener))
    (let ((server (car (accept (cdddr listener)))))
      (display "hello" client)
      (force-output client)
      (let ((buf (make-bytevector 16)))
        (recv! server buf))
      (close-port client)
      (usleep 20000)
      (close-port server))))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each (lambda (p) (bpf-map-set! sports p p)) (ports 'sport))
    (for-each (lambda (p) (bpf-map-set! dports p p)) (ports 'dport))
    (bpf-attach! tcpstates)
    (when (option-ref options 'timestamp #f) (format #t "~8a " "TIME(s)"))
    (format #t "~16a ~7a ~10a ~15a ~5a ~15a ~5a ~11a -> ~11a ~a~%"
            "SKADDR" "PID" "COMM" "LADDR" "LPORT" "RADDR" "RPORT"
            "OLDSTATE" "NEWSTATE" "MS")
    (listen! AF_INET "127.0.0.1")
    (listen! AF_INET6 "::1")
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (when (zero? (modulo i 5))
            (for-each one-connection! listeners))
          (bpf-ringbuf-poll tcp-events print-event #:timeout-ms 100)
          (loop (+ i 1)))))
    (for-each (lambda (l) (close-port (cdddr l))) listeners)
    (set! listeners '())
    (bpf-ringbuf-poll tcp-events print-event #:timeout-ms 100))
  (lambda ()
    (for-each (lambda (l) (false-if-exception (close-port (cdddr l)))) listeners)
    (bpf-unload! tcpstates)))
