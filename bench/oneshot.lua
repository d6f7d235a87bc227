-- bench/oneshot.lua — one whole process: ask one question, stream the answer.
--   glrun bench/oneshot.lua [PROMPT]
-- (what examples/hello.lua does; bench/sdk.mjs oneshot is the SDK twin)
for piece in assert(gemini.stream(arg[1] or "Say hello to a new glrun user in one short sentence.",
                                  { model = "gemini-2.5-flash" })) do
  io.write(piece)
end
io.write("\n")
