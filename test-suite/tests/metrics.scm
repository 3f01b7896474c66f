;;; Prometheus metrics: rendered from the programs and maps of this
;;; process, served over HTTP on 127.0.0.1, fetched and parsed back.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-11) (srfi srfi-64) (ice-9 match)
             (ice-9 regex) (ice-9 rdelim) (web client) (web response) (web uri))

(harness-begin "metrics" 'kernel)
(bpf-enable-stats!)   ; run counts are checked below

(defbpf-map verdicts #:kind 'hash #:key 'u32 #:value 'u64)
(bpf-fn count-packets (ctx)
  (map-increment! verdicts (proto ctx))
  (return :xdp-pass))
(define counter (make-bpf-program `((name . "count-packets") (kind . xdp)
                                    (attach . "lo") (source . ,count-packets))))
(defbpf-map idle #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
;; A policy listing them, where (ebpf policy) can declare one.
(define policy
  (false-if-exception
   (make-bpf-policy '((name . "metrics-test") (programs . ("count-packets"))
                      (maps . ("verdicts"))))))

(define udp (make-udp-packet #:src "10.0.0.1" #:dst "10.0.0.2"))
(bpf-load! counter)
(bpf-test-run counter udp #:repeat 25)

;; ---- parsing the text exposition format ----

(define sample-rx
  (make-regexp "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? ([^ ]+)$"))
(define label-rx (make-regexp "([a-zA-Z_][a-zA-Z0-9_]*)=\"((\\\\.|[^\"\\\\])*)\""))

(define (parse-metrics text)
  ;; ((name labels value) ...) for every sample; HELP and TYPE lines are
  ;; returned separately as ((name . type) ...).
  (let loop ((lines (string-split text #\newline)) (samples '()) (types '()))
    (match lines
      (() (values (reverse samples) (reverse types)))
      ((line . rest)
       (cond
        ((string-null? line) (loop rest samples types))
        ((string-prefix? "# TYPE " line)
         (match (string-split (substring line 7) #\space)
           ((name type) (loop rest samples (acons name type types)))))
        ((string-prefix? "#" line) (loop rest samples types))
        ((regexp-exec sample-rx line)
         => (lambda (m)
              (let ((labels (if (match:substring m 3)
                                (map (lambda (lm)
                                       (cons (match:substring lm 1)
                                             (match:substring lm 2)))
                                     (list-matches label-rx (match:substring m 3)))
                                '())))
                (loop rest
                      (cons (list (match:substring m 1) labels
                                  (string->number (match:substring m 4)))
                            samples)
                      types))))
        (else (loop rest (cons (list 'unparsable line #f) samples) types)))))))

(define (find-sample samples name . labels)
  (find (match-lambda
          ((n ls v) (and (equal? n name)
                         (every (lambda (l) (equal? (assoc-ref ls (car l)) (cdr l)))
                                labels))))
        samples))

;; ---- rendered ----

(define text (bpf-metrics))
(define-values (samples types) (parse-metrics text))

(test-assert "every line parses" (not (assq 'unparsable samples)))
(test-equal "counters and gauges are typed"
            '("counter" "counter" "gauge")
            (map (lambda (n) (assoc-ref types n))
                 '("guile_ebpf_program_runs_total"
                   "guile_ebpf_program_run_seconds_total"
                   "guile_ebpf_map_entries")))
(let ((runs (find-sample samples "guile_ebpf_program_runs_total"
                         '("program" . "count-packets"))))
  (test-assert "the program's run count" (and runs (>= (third runs) 25)))
  (test-equal "labelled with kind and interface" '("xdp" "lo")
              (and runs (list (assoc-ref (second runs) "kind")
                              (assoc-ref (second runs) "interface"))))
  (when policy
    (test-equal "labelled with its policy" "metrics-test"
                (and runs (assoc-ref (second runs) "policy")))))
(test-assert "the program's run time in seconds"
             (let ((t (find-sample samples "guile_ebpf_program_run_seconds_total"
                                   '("program" . "count-packets"))))
               (and t (real? (third t)) (>= (third t) 0))))
(test-equal "a hash map's entry count" 1
            (third (find-sample samples "guile_ebpf_map_entries"
                                '("map" . "verdicts") '("kind" . "hash"))))
(test-equal "a map not yet created counts 0 (and is not created)" '(0 #f)
            (list (third (find-sample samples "guile_ebpf_map_entries"
                                      '("map" . "idle")))
                  (bpf-map-fd idle)))
(test-assert "internal maps are left out"
             (not (any (match-lambda
                         ((n ls v) (let ((m (assoc-ref ls "map")))
                                     (and m (string-prefix? "gebpf-" m)))))
                       samples)))
(test-assert "#:all-programs? adds the kernel's programs"
             (string-contains (bpf-metrics #:all-programs? #t)
                              "guile_ebpf_kernel_program_runs_total{id="))

;; ---- served over HTTP on localhost ----

(define server (bpf-serve-metrics #:port 0))
(define port (bpf-metrics-server-port server))
(test-assert "a port was chosen" (> port 0))
(define (fetch path)
  (call-with-values
      (lambda () (http-get (string->uri (format #f "http://127.0.0.1:~a~a" port path))))
    (lambda (response body) (cons response body))))

(bpf-test-run counter udp #:repeat 5)
(let* ((r (fetch "/metrics"))
       (response (car r))
       (body (cdr r)))
  (test-equal "200 OK" 200 (response-code response))
  (test-equal "Prometheus's content type" 'text/plain
              (car (response-content-type response)))
  (let-values (((samples types) (parse-metrics body)))
    (test-assert "fetched text parses" (not (assq 'unparsable samples)))
    (test-assert "fetched text is current"
                 (>= (third (find-sample samples "guile_ebpf_program_runs_total"
                                         '("program" . "count-packets")))
                     30))))
(test-equal "other paths: 404" 404 (response-code (car (fetch "/other"))))
(test-equal "listens on 127.0.0.1 only" '("0100007F")
            ;; Local addresses of the listening sockets on PORT, from
            ;; /proc/net/tcp (address:port in hex, state 0A = LISTEN).
            (call-with-input-file "/proc/net/tcp"
              (lambda (in)
                (read-line in)
                (let lp ((acc '()))
                  (let ((line (read-line in)))
                    (if (eof-object? line)
                        (reverse acc)
                        (match (string-tokenize line)
                          ((_ local _ state . _)
                           (match (string-split local #\:)
                             ((addr p)
                              (lp (if (and (equal? state "0A")
                                           (= (string->number p 16) port))
                                      (cons addr acc)
                                      acc)))))
                          (_ (lp acc)))))))))
(bpf-stop-metrics! server)
(test-assert "stopped: connections are refused"
             (catch 'system-error
               (lambda () (fetch "/metrics") #f)
               (lambda _ #t)))
(bpf-stop-metrics! server)
(test-assert "stopping again is harmless" #t)
(test-ebpf-error "a bad port" 'ebpf-validation-error ("bad port")
                 (bpf-serve-metrics #:port -1))

(bpf-unload! counter)
(harness-end)
