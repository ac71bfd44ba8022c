# Shortcuts for ./run (the README's commands need only bash on a fresh machine).
#   make demo | make test | make setup | make pio ARGS="run -e qemu-m4 -t upload" | make doctor
ARGS ?= run -e qemu-m4

.PHONY: all setup demo test pio doctor

all: test

setup:
	@./run setup

demo:
	@./run demo

test:
	@./run test

pio:
	@./run pio $(ARGS)

doctor: setup
	.venv/bin/deploy doctor
