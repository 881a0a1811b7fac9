// Renders the published Questionnaire with LHC-Forms (the NLM SDC renderer) in jsdom, fills
// it from a QuestionnaireResponse and writes the response LHC-Forms produces. Not run by
// the test suite; it made lhc-forms-40.1.3-response.json. To run it again:
//   npm install lforms@40.1.3 jsdom@26 zone.js --legacy-peer-deps
//   curl -s localhost:8000/fhir/Questionnaire/ketamine-intake > q.json
//   (write qr_in.json: e.g. tests/api/fhir_answering.answer(...) of the body in
//    tests/api/test_fhir_renderers.py)
//   node lforms_roundtrip.js   # prints validity errors (null) and writes qr_out.json
const fs = require('fs');
const { JSDOM } = require('jsdom');

const dom = new JSDOM('<!DOCTYPE html><html><body><div id="f"></div></body></html>',
  { runScripts: 'outside-only', pretendToBeVisual: true, url: 'http://localhost/' });
const w = dom.window;
for (const script of ['node_modules/zone.js/bundles/zone.umd.js',
                      'node_modules/lforms/dist/lforms/webcomponent/lhc-forms.js',
                      'node_modules/lforms/dist/lforms/fhir/R4/lformsFHIR.min.js']) {
  w.eval(fs.readFileSync(script, 'utf8'));
}
const LForms = w.LForms;
const questionnaire = JSON.parse(fs.readFileSync('q.json', 'utf8'));
const given = JSON.parse(fs.readFileSync('qr_in.json', 'utf8'));

(async () => {
  const form = LForms.Util.convertFHIRQuestionnaireToLForms(questionnaire, 'R4');
  const filled = LForms.Util.mergeFHIRDataIntoLForms('QuestionnaireResponse', given, form, 'R4');
  const element = w.document.getElementById('f');
  await LForms.Util.addFormToPage(filled, element, { fhirVersion: 'R4' });
  console.log('validity errors', JSON.stringify(LForms.Util.checkValidity(element)));
  const response = LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', element);
  fs.writeFileSync('qr_out.json', JSON.stringify(response, null, 1));
  process.exit(0);
})();
