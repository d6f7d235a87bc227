-- structured.lua — structured output: the answer as a Lua table that fits
-- a JSON Schema. glrun checks the reply and asks once more, saying what was
-- wrong, when it does not fit; then it is an error of kind "schema".
--
--   glrun --mock examples/structured.lua
local schema = {
  type = "object", required = { "title", "tags", "rating" },
  properties = {
    title = { type = "string" },
    tags = { type = "array", items = { type = "string" }, minItems = 1 },
    rating = { type = "integer", minimum = 1, maximum = 5 },
  },
}

local review, err = gemini.ask("Review the film Metropolis in a few words.", { schema = schema })
if not review then
  print("no structured answer: " .. tostring(err)) -- err.raw holds the reply's text
  os.exit(1)
end
print("title:  " .. review.title)
print("tags:   " .. table.concat(review.tags, ", "))
print("rating: " .. review.rating)

-- the validator on its own
local ok, problems = gemini.schema.validate({ title = 3, tags = {} }, schema)
print(ok, problems[1])
