// Starts Swagger UI on /docs from this site's own copy of it (no CDN): a file,
// not an inline script, so the page's Content-Security-Policy can allow only 'self'.
window.addEventListener("load", function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The page sends no token by itself: "Authorize" asks for one.
    persistAuthorization: false,
  });
});
