;;; defbpf-struct: C layout, keyword constructor, accessors, codecs.
(use-modules (harness) (ebpf) (srfi srfi-64) (rnrs bytevectors))

(harness-begin "struct")

(defbpf-struct flow-key (saddr ipv4) (daddr ipv4) (sport be16) (dport be16) (proto u8))
(defbpf-struct mixed (a u8) (b u64) (c u16) (d (string 3)) (e u32))
(defbpf-struct event (pid u32) (comm (string 16)) (key flow-key))

(test-equal "flow-key layout"
            '((saddr 0 4) (daddr 4 4) (sport 8 2) (dport 10 2) (proto 12 1))
            (bpf-struct-layout flow-key))
(test-equal "flow-key size rounds to alignment" 16 (bpf-type-size flow-key))
(test-equal "mixed layout (C padding rules)"
            '((a 0 1) (b 8 8) (c 16 2) (d 18 3) (e 24 4))
            (bpf-struct-layout mixed))
(test-equal "mixed size" 32 (bpf-type-size mixed))
(test-equal "mixed align" 8 (bpf-type-align mixed))
(test-equal "nested struct offset" '((pid 0 4) (comm 4 16) (key 20 16))
            (bpf-struct-layout 'event))

(define k (make-flow-key #:saddr "10.0.0.1" #:daddr "10.0.0.2" #:sport 1234
                         #:dport 80 #:proto 6))
(test-assert "predicate" (flow-key? k))
(test-assert "predicate on other" (not (flow-key? 5)))
(test-assert "bpf-struct?" (bpf-struct? k))
(test-equal "accessor" "10.0.0.1" (flow-key-saddr k))
(test-equal "accessor dport" 80 (flow-key-dport k))
(test-equal "an accessor refuses what is not its record"
            '(wrong-type-arg wrong-type-arg)
            (map (lambda (x)
                   (catch #t (lambda () (flow-key-dport x) 'no-error)
                     (lambda (key . args) key)))
                 (list 5 (make-event #:pid 1 #:comm "x" #:key k))))
(test-equal "->alist"
            '((saddr . "10.0.0.1") (daddr . "10.0.0.2") (sport . 1234)
              (dport . 80) (proto . 6))
            (bpf-struct->alist k))
(test-equal "defaults are zero"
            '((saddr . "0.0.0.0") (daddr . "0.0.0.0") (sport . 0) (dport . 0)
              (proto . 0))
            (bpf-struct->alist (make-flow-key)))
(test-equal "bytes in C layout, network order ports"
            '(10 0 0 1 10 0 0 2 4 210 0 80 6 0 0 0)
            (bytevector->u8-list (bpf-encode flow-key k)))
(test-equal "decode gives a record" (bpf-struct->alist k)
            (bpf-struct->alist (bpf-decode flow-key (bpf-encode flow-key k))))
(test-equal "type by name" 16 (bpf-type-size 'flow-key))
(test-equal "type by snake name" 16 (bpf-type-size 'flow_key))
(test-equal "alist value accepted"
            (bytevector->u8-list (bpf-encode flow-key k))
            (bytevector->u8-list
             (bpf-encode flow-key '((saddr . "10.0.0.1") (daddr . "10.0.0.2")
                                    (sport . 1234) (dport . 80) (proto . 6)))))
(let ((e (make-event #:pid 42 #:comm "bash" #:key k)))
  (test-equal "nested round trip" "bash"
              (event-comm (bpf-decode event (bpf-encode event e))))
  (test-equal "nested record inside" 80
              (flow-key-dport (event-key (bpf-decode event (bpf-encode event e))))))

(test-ebpf-error "unknown field" 'ebpf-validation-error ("port" "flow-key")
                 (make-flow-key #:port 1))
(test-ebpf-error "bad value checked at construction" 'ebpf-validation-error
                 ("70000" "sport")
                 (make-flow-key #:sport 70000))
(test-ebpf-error "bad field type" 'ebpf-validation-error ("u99")
                 (eval '(defbpf-struct bad (x u99)) (current-module)))
(test-ebpf-error "duplicate field" 'ebpf-validation-error ("twice")
                 (eval '(defbpf-struct dup (x u8) (x u16)) (current-module)))
(test-ebpf-error "injection in a field name" 'ebpf-validation-error
                 ("not a valid identifier")
                 (eval '(defbpf-struct inj (#{x; int y}# u8)) (current-module)))
(test-ebpf-error "malformed" 'ebpf-validation-error ("defbpf-struct")
                 (eval '(defbpf-struct "nope" 5) (current-module)))
(test-ebpf-error "->alist of non-struct" 'ebpf-validation-error ("42")
                 (bpf-struct->alist 42))

(harness-end)
