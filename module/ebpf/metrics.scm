;;; (ebpf metrics) --- (being written).
(define-module (ebpf metrics))
