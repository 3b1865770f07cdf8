// Sends the SAML message on without a click; the page's button does the same when
// scripts are off.
document.getElementById("saml-post").submit();
